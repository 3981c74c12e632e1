"""Reliability of the sync against a misbehaving AutoSys and a busy table: faults, a SIGKILL
between send and commit, and completions appended while a sync runs."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from jobops_dagster.autosys.emulator import AutoSysEmulator, Faults
from jobops_dagster.autosys.rest import RestAutoSysClient
from jobops_dagster.autosys.sync import SyncSettings, run_sync
from jobops_dagster.job_status.table import JobStatusTable
from jobops_dagster_tests.autosys.conftest import MakeClient, StartEmulator
from jobops_dagster_tests.autosys.support import (
    PASSWORD,
    USERNAME,
    applied_event_ids,
    backlog,
    completion,
    flags,
    insert,
    rows_by_event,
)

NO_WAIT = SyncSettings(concurrency=8, backoff_base=dt.timedelta(0), backoff_cap=dt.timedelta(0))


def test_run_sync_under_503_and_timeouts_converges_to_all_yes(
    table: JobStatusTable, start_emulator: StartEmulator, make_client: MakeClient
) -> None:
    emulator = start_emulator(Faults(error_rate=0.3, timeout_rate=0.1, stall_s=0.3, seed=11))
    client = make_client(emulator, read_timeout_s=0.15)
    insert(table, backlog(jobs=20, per_job=5))

    runs = 0
    while flags(table).get("NO") and runs < 40:
        run_sync(table=table, client=client, settings=NO_WAIT)
        runs += 1

    assert flags(table) == {"YES": 100}
    applied = applied_event_ids(emulator)
    for event_id, row in rows_by_event(table).items():
        assert row["autosys_update_flag"] == "YES"
        assert applied[event_id] >= 1, f"{event_id} is YES with no accepted event"
    # A timeout is applied by AutoSys but unseen by us, so its row is sent again.
    timeouts = sum(1 for event in emulator.events() if event.response == "timeout")
    duplicates = sum(count - 1 for count in applied.values())
    assert runs > 1
    assert duplicates <= timeouts


def test_run_sync_killed_between_send_and_commit_resends_next_run(
    table: JobStatusTable, table_url: str, emulator: AutoSysEmulator,
    rest_client: RestAutoSysClient, tmp_path: Path,
) -> None:
    """At-least-once: statuses AutoSys received before the crash are sent again, not lost."""
    insert(table, backlog(jobs=5, per_job=3))
    marker = tmp_path / "sends-done"
    child = subprocess.Popen(
        [sys.executable, "-m", "jobops_dagster_tests.autosys.crash_child", table_url,
         emulator.url, str(marker)],
        env={**os.environ, "AUTOSYS_USERNAME": USERNAME, "AUTOSYS_PASSWORD": PASSWORD},
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "the child never reached the point between send and commit"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    assert len(emulator.applied_events()) == 15
    assert flags(table) == {"NO": 15}

    report = run_sync(table=table, client=rest_client, settings=NO_WAIT)

    assert report.accepted == 15
    assert flags(table) == {"YES": 15}
    applied = applied_event_ids(emulator)
    duplicates = sum(count - 1 for count in applied.values())
    assert duplicates == 15  # every status reached AutoSys exactly twice


def test_run_sync_with_concurrent_appends_keeps_every_row(
    table: JobStatusTable, start_emulator: StartEmulator, make_client: MakeClient
) -> None:
    emulator = start_emulator(Faults(latency_s=0.02))
    client = make_client(emulator)
    first = backlog(jobs=10, per_job=4)
    insert(table, first)
    appended: list[str] = []
    stop = threading.Event()

    def ingest() -> None:
        while not emulator.events():  # start once the sync has read its rows and is sending
            time.sleep(0.005)
        minute = 100
        while not stop.is_set():
            rows = [completion(f"JOB_{job:03d}", minute) for job in range(0, 10, 3)]
            insert(table, rows)
            appended.extend(row.event_id for row in rows)
            minute += 1
            stop.wait(0.05)  # a busy but not saturating writer; each append is one commit

    writer = threading.Thread(target=ingest)
    writer.start()
    try:
        report = run_sync(table=table, client=client, settings=SyncSettings(concurrency=4))
    finally:
        stop.set()
        writer.join()

    rows = rows_by_event(table)
    assert report.accepted == len(first)
    assert appended, "no completion was appended while the sync ran"
    assert len(rows) == len(first) + len(appended)
    assert all(rows[row.event_id]["autosys_update_flag"] == "YES" for row in first)
    assert all(rows[event_id]["autosys_update_flag"] == "NO" for event_id in appended)
