"""`make demo`: the main flow on embedded defaults, through the real Dagster instance.

1. Completions arrive as notification files (one of them broken) and reach `job_status`.
2. `run_task` dispatches tasks over stand-in VMs on this machine, one of them down; the
   run-status sensors turn each finished run into a row.
3. `autosys_sync` reports the rows to a local AutoSys emulator that fails one job's first
   attempt; the next run retries it and every flag turns `YES`.

Everything lives under `.demo/`, which each run starts afresh; the Dagster instance is the
one in DAGSTER_HOME, so the VM cursor carries over from run to run.
"""

import logging
import os
import shutil
from pathlib import Path

import dagster as dg

DEMO_DIR = Path(".demo").resolve()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="  %(levelname)s %(name)s: %(message)s")
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    os.environ["JOBOPS_DATA_DIR"] = str(DEMO_DIR)

    from jobops_dagster.demo import steps

    with steps.local_services() as services, dg.DagsterInstance.get() as instance:
        from jobops_dagster.definitions import defs
        from jobops_dagster.defs.autosys_sync import limit_autosys_sync_pool

        limit_autosys_sync_pool(instance)

        flow = steps.Flow(defs=defs, instance=instance, services=services)
        say("1. Notification files reach job_status")
        flow.ingest_notification_files()
        say("2. run_task spreads tasks over the VM pool")
        flow.dispatch_tasks()
        say("3. autosys_sync reports every status to AutoSys")
        flow.sync_to_autosys()
        say("job_status now")
        flow.show_table()


def say(title: str) -> None:
    print(f"\n== {title}", flush=True)


if __name__ == "__main__":
    main()
