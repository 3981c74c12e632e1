"""The one `Definitions` of the jobops_dagster code location, loaded by workspace.yaml.

Resources are built here from the environment; docs/ and the README list the variables.
"""

import dagster as dg

from jobops_dagster.defs import (
    autosys_sync,
    job_status,
    job_status_sensors,
    maintenance,
    vm_pool,
)
from jobops_dagster.defs.autosys_resources import autosys_from_env
from jobops_dagster.defs.resources import job_status_table_from_env, notification_folder_from_env
from jobops_dagster.defs.vm_pool_resources import vm_pool_resources_from_env

defs = dg.Definitions.merge(
    job_status.defs,
    job_status_sensors.defs,
    maintenance.defs,
    autosys_sync.defs,
    vm_pool.defs,
    dg.Definitions(
        resources={
            "job_status_table": job_status_table_from_env(),
            "notification_folder": notification_folder_from_env(),
            "autosys": autosys_from_env(),
            **vm_pool_resources_from_env(),
        }
    ),
)
