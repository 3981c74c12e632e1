"""A sync run in its own process that stops between its sends and its commit, to be killed.

Usage: python -m jobops_dagster_tests.autosys.crash_child TABLE_URL EMULATOR_URL MARKER
(the password comes from AUTOSYS_PASSWORD). Once every send is done it writes MARKER and
sleeps, so the test can SIGKILL it at exactly that point.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from jobops_dagster.autosys.rest import RestAutoSysClient, RestSettings
from jobops_dagster.autosys.sync import SyncSettings, run_sync
from jobops_dagster.job_status.table import JobStatusTable


def main(table_url: str, emulator_url: str, marker: str) -> int:
    client = RestAutoSysClient(
        RestSettings(base_url=emulator_url, username=os.environ["AUTOSYS_USERNAME"],
                     password=os.environ["AUTOSYS_PASSWORD"])
    )

    def hang(rows: int) -> None:
        Path(marker).write_text(str(rows))
        time.sleep(120)

    run_sync(table=JobStatusTable(table_url), client=client, settings=SyncSettings(),
             before_commit=hang)
    return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
