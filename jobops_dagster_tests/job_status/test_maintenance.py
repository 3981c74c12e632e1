"""Maintenance on a real table while another writer keeps appending: the small files are
compacted, a checkpoint is written, and no appended row is lost."""

import datetime as dt
import threading
from pathlib import Path

from deltalake import DeltaTable

from jobops_dagster.job_status.maintenance import maintain
from jobops_dagster.job_status.schema import Completion, Source, Status
from jobops_dagster.job_status.table import JobStatusTable
from jobops_dagster_tests.job_status.support import NOW


def completions(start: int, count: int) -> list[Completion]:
    return [
        Completion(
            event_id=f"e{n}",
            job_name="NIGHTLY.extract",
            file_name=None,
            status=Status.SUCCESS,
            executed_at=NOW - dt.timedelta(seconds=n),
            vm=None,
            source=Source.NOTIFICATION_FILE,
        )
        for n in range(start, start + count)
    ]


def test_maintain_during_appends_compacts_checkpoints_and_loses_nothing(
    table: JobStatusTable, table_url: str
) -> None:
    for batch in range(20):
        table.insert_missing(completions(batch * 5, 5), now=NOW)
    files_before = len(DeltaTable(table_url).file_uris())
    writer = JobStatusTable(table_url, max_commit_attempts=50)
    stop = threading.Event()
    appended: list[int] = []

    def keep_appending() -> None:
        start = 1000
        while not stop.is_set():
            appended.append(writer.insert_missing(completions(start, 3), now=NOW).rows)
            start += 3

    thread = threading.Thread(target=keep_appending)
    thread.start()
    try:
        # An hour of retention, as the job enforces: files replaced a moment ago stay for
        # the writer that may still be reading them.
        report = maintain(JobStatusTable(table_url, max_commit_attempts=50), retention_hours=1)
    finally:
        stop.set()
        thread.join()

    delta = DeltaTable(table_url)
    assert report.files_removed_by_compaction >= files_before - 1
    assert delta.count() == 100 + sum(appended)
    assert sum(appended) > 0
    assert list((Path(table_url) / "_delta_log").glob("*.checkpoint.parquet"))


def test_maintain_vacuum_deletes_files_older_than_retention(
    table: JobStatusTable, table_url: str
) -> None:
    for batch in range(5):
        table.insert_missing(completions(batch * 5, 5), now=NOW)
    first = maintain(table, retention_hours=0)
    assert first.files_removed_by_compaction == 5
    assert first.files_vacuumed == 5
    assert len(list(Path(table_url).rglob("*.parquet"))) == 1 + 1  # one data file, one checkpoint
    assert DeltaTable(table_url).count() == 25
