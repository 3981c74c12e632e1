"""The one `Definitions` of the jobops_dagster code location, loaded by workspace.yaml."""

import dagster as dg

from jobops_dagster.defs import job_status, maintenance
from jobops_dagster.defs.resources import job_status_table_from_env, notification_folder_from_env

defs = dg.Definitions.merge(
    job_status.defs,
    maintenance.defs,
    dg.Definitions(
        resources={
            "job_status_table": job_status_table_from_env(),
            "notification_folder": notification_folder_from_env(),
        }
    ),
)
