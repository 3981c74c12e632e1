"""Materialize `autosys_sync` once, in its own process, on the instance at DAGSTER_HOME.

Usage: python -m jobops_dagster_tests.autosys.sync_child TABLE_URL EMULATOR_URL (user and
password from AUTOSYS_USERNAME and AUTOSYS_PASSWORD). Two of these at once are how the pool
test runs two syncs side by side: Dagster configures logging per run, which is not safe to
do from two threads of one process.
"""

from __future__ import annotations

import os
import sys

import dagster as dg
from dagster_deltalake import LocalConfig

from jobops_dagster.defs.autosys_resources import AutoSysResource
from jobops_dagster.defs.autosys_sync import autosys_sync
from jobops_dagster.defs.resources import JobStatusTableResource


def main(table_url: str, emulator_url: str) -> int:
    resources = {
        "autosys": AutoSysResource(base_url=emulator_url,
                                   username=os.environ["AUTOSYS_USERNAME"],
                                   password=dg.EnvVar("AUTOSYS_PASSWORD")),
        "job_status_table": JobStatusTableResource(url=table_url, storage_options=LocalConfig()),
    }
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize([autosys_sync], resources=resources, instance=instance)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
