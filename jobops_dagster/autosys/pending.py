"""Reading the rows a sync works on: every `NO` row, ordered per job by execution time."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Protocol

import pyarrow as pa

from jobops_dagster.job_status.schema import SCHEMA
from jobops_dagster.job_status.table import WriteResult

_WORK_COLUMNS = ["event_id", "job_name", "status", "executed_at", "execution_date",
                 "logged_at", "attempts", "next_attempt_at"]


class SyncTable(Protocol):
    def pending(
        self, *, now: dt.datetime | None, batch_rows: int = ..., columns: list[str] | None = ...
    ) -> Iterator[pa.Table]: ...

    def apply_sync_results(self, updates: pa.Table) -> WriteResult: ...


@dataclasses.dataclass(frozen=True, kw_only=True)
class QueuedRow:
    event_id: str
    job_name: str
    status: str
    execution_date: str
    attempts: int
    next_attempt_at: dt.datetime | None


def pending_columns(table: SyncTable, columns: list[str], *, batch_rows: int) -> pa.Table:
    """`columns` of every `NO` row, due or not: a job's later status must wait while an
    earlier one is still backing off, so the engine sees them all."""
    chunks = list(table.pending(now=None, batch_rows=batch_rows, columns=columns))
    if not chunks:
        return pa.schema([SCHEMA.field(name) for name in columns]).empty_table()
    return pa.concat_tables(chunks)


def read_pending_work(table: SyncTable, *, batch_rows: int) -> pa.Table:
    """Every `NO` row's sending columns, ordered by job and then by execution time."""
    work = pending_columns(table, _WORK_COLUMNS, batch_rows=batch_rows)
    return work.sort_by([("job_name", "ascending"), ("executed_at", "ascending"),
                         ("event_id", "ascending")])


def job_queues(
    work: pa.Table, *, now: dt.datetime, max_rows: int | None = None
) -> Iterator[tuple[list[QueuedRow], int, int]]:
    """Per job: the leading rows that are due, how many must wait for their next attempt
    time, and how many were deferred to a later run by `max_rows`.

    Jobs come oldest first (by their earliest pending execution), so a capped run serves the
    longest waits. Once `max_rows` rows are queued, the remaining jobs wait whole.
    """
    names = work.column("job_name").to_pylist()
    executed = work.column("executed_at")
    bounds = [
        (start, end)
        for start, end in zip([0, *_changes(names)], [*_changes(names), len(names)], strict=True)
        if end > start
    ]
    bounds.sort(key=lambda bound: executed[bound[0]].as_py())
    queued = 0
    for start, end in bounds:
        if max_rows is not None and queued >= max_rows:
            yield [], 0, end - start
            continue
        queue: list[QueuedRow] = []
        for row in work.slice(start, end - start).to_pylist():
            due_at = row["next_attempt_at"]
            if due_at is not None and due_at > now:
                break
            queue.append(QueuedRow(
                event_id=row["event_id"], job_name=row["job_name"], status=row["status"],
                execution_date=row["execution_date"], attempts=row["attempts"],
                next_attempt_at=due_at,
            ))
        queued += len(queue)
        yield queue, end - start - len(queue), 0


def _changes(names: list[str]) -> list[int]:
    """Indexes where a sorted list of job names moves on to the next job."""
    return [index for index in range(1, len(names)) if names[index] != names[index - 1]]
