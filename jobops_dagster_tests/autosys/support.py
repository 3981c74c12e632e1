"""Rows and look-ups shared by the AutoSys tests."""

from __future__ import annotations

import datetime as dt
import secrets
from collections import Counter

import pyarrow as pa

from jobops_dagster.autosys.emulator import AutoSysEmulator
from jobops_dagster.job_status.schema import Completion, Status
from jobops_dagster.job_status.table import JobStatusTable

USERNAME = "jobops-test"
# Distinctive, so a search for it in logs and events cannot match anything by accident.
PASSWORD = f"pw-{secrets.token_hex(12)}"
START = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)


def completion(job: str, minute: int, status: Status = Status.SUCCESS) -> Completion:
    executed_at = START + dt.timedelta(minutes=minute)
    return Completion.reported(
        job_name=job, file_name=None, status=status, executed_at=executed_at, vm=None
    )


def backlog(jobs: int, per_job: int, *, prefix: str = "JOB") -> list[Completion]:
    """`per_job` completions for each of `jobs` jobs, alternating success and failure."""
    return [
        completion(f"{prefix}_{j:03d}", minute, Status.SUCCESS if minute % 2 else Status.FAILURE)
        for j in range(jobs)
        for minute in range(per_job)
    ]


def insert(table: JobStatusTable, rows: list[Completion], *, now: dt.datetime | None = None):
    return table.insert_missing(rows, now=now or dt.datetime.now(dt.UTC))


def rows_by_event(table: JobStatusTable) -> dict[str, dict[str, object]]:
    return {row["event_id"]: row for row in table.read().to_pylist()}


def flags(table: JobStatusTable) -> Counter[str]:
    column: pa.ChunkedArray = table.read(["autosys_update_flag"]).column("autosys_update_flag")
    return Counter(column.to_pylist())


def event_id_of(comment: str | None) -> str | None:
    """The job_status event id that the client writes into each event's comment."""
    if comment is None or "event_id=" not in comment:
        return None
    return comment.split("event_id=", 1)[1]


def applied_event_ids(emulator: AutoSysEmulator) -> Counter[str]:
    return Counter(
        event_id
        for event in emulator.applied_events()
        if (event_id := event_id_of(event.comment)) is not None
    )
