"""Reads and writes of the `job_status` Delta table, through delta-rs.

Every write is one commit. Writes that read the table (MERGE) can lose a race with another
writer; they reload the table and run again, so a conflict costs time but never a row.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pyarrow as pa
from deltalake import DeltaTable, Field, QueryBuilder, Schema
from deltalake.exceptions import CommitFailedError, TableNotFoundError
from deltalake.table import TableMerger

from jobops_dagster.job_status.schema import (
    PARTITION_BY,
    SCHEMA,
    Completion,
    Flag,
    completions_to_arrow,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

SYNC_RESULT_COLUMNS = (
    "autosys_update_flag",
    "attempts",
    "last_error",
    "updated_at",
    "next_attempt_at",
)


@dataclasses.dataclass(frozen=True)
class WriteResult:
    """What one commit did: rows it wrote and the table version it produced."""

    rows: int
    version: int


class JobStatusTable:
    """The `job_status` table at `url`, created with the current schema on first use."""

    def __init__(
        self,
        url: str,
        *,
        storage_options: dict[str, str] | None = None,
        max_commit_attempts: int = 20,
    ) -> None:
        self.url = url
        self.storage_options = storage_options or {}
        self.max_commit_attempts = max_commit_attempts

    def load(self) -> DeltaTable:
        """Open the table, creating it or adding columns that a newer schema brought."""
        try:
            table = DeltaTable(self.url, storage_options=self.storage_options)
        except TableNotFoundError:
            table = DeltaTable.create(
                self.url,
                SCHEMA,
                mode="ignore",
                partition_by=PARTITION_BY,
                name="job_status",
                description="One row per job execution and whether AutoSys has its status.",
                storage_options=self.storage_options,
            )
            log.info("Created job_status table at %s", self.url)
        self._add_missing_columns(table)
        return table

    def _add_missing_columns(self, table: DeltaTable) -> None:
        for _ in range(self.max_commit_attempts):
            present = {field.name for field in table.schema().fields}
            # A column added to an existing table is nullable: its old rows have no value.
            missing = [
                Field(field.name, field.type, nullable=True)
                for field in Schema.from_arrow(SCHEMA).fields
                if field.name not in present
            ]
            if not missing:
                return
            try:
                table.alter.add_columns(missing)
            except CommitFailedError:
                # Another writer moved the table on, perhaps adding these same columns.
                table.update_incremental()
                continue
            log.info("Added columns %s to job_status", [field.name for field in missing])
            return

    def insert_missing(self, rows: list[Completion], *, now: dt.datetime) -> WriteResult:
        """Append the rows whose event id is not in the table yet, in one commit.

        Rows already present are left as they are, so re-ingesting a completion never adds a
        second row and never turns a `YES` flag back into `NO`.
        """
        unique = list({row.event_id: row for row in rows}.values())
        if not unique:
            return WriteResult(rows=0, version=self.load().version())
        source = completions_to_arrow(unique, logged_at=now)
        return self._merge_on_event_id(
            source, lambda merger: merger.when_not_matched_insert_all(), "num_target_rows_inserted"
        )

    def apply_sync_results(self, updates: pa.Table) -> WriteResult:
        """Write AutoSys outcomes onto their rows in one commit, matched on event id.

        `updates` carries `event_id`, `execution_date` and the columns in
        `SYNC_RESULT_COLUMNS`. Only rows still flagged `NO` change: a row AutoSys already has
        is never reopened.
        """
        if updates.num_rows == 0:
            return WriteResult(rows=0, version=self.load().version())
        assignments = {column: f"s.{column}" for column in SYNC_RESULT_COLUMNS}
        return self._merge_on_event_id(
            updates,
            lambda merger: merger.when_matched_update(
                assignments, predicate=f"t.autosys_update_flag = '{Flag.NO}'"
            ),
            "num_target_rows_updated",
        )

    def _merge_on_event_id(
        self, source: pa.Table, clause: Callable[[TableMerger], TableMerger], counted: str
    ) -> WriteResult:
        """One MERGE of `source` (alias `s`) into the table (alias `t`) on event id."""

        def merge(table: DeltaTable) -> WriteResult:
            merger = table.merge(
                source,
                # execution_date lets delta-rs prune to the partitions the source touches.
                predicate="t.execution_date = s.execution_date AND t.event_id = s.event_id",
                source_alias="s",
                target_alias="t",
                streamed_exec=False,
            )
            metrics = clause(merger).execute()
            return WriteResult(rows=metrics[counted], version=table.version())

        return self.with_reload(merge)

    def pending(
        self,
        *,
        now: dt.datetime | None,
        batch_rows: int = 10_000,
        columns: list[str] | None = None,
    ) -> Iterator[pa.Table]:
        """Rows flagged `NO`, in chunks of at most `batch_rows`.

        With `now`, only rows whose next attempt is due by then; with None, every `NO` row.
        The flag filter goes to the scan, so files whose statistics show only `YES` rows are
        never opened; a synced history costs next to nothing to skip.
        """
        where = f"autosys_update_flag = '{Flag.NO}'"
        if now is not None:
            stamp = now.astimezone(dt.UTC).isoformat()
            where += f" AND (next_attempt_at IS NULL OR next_attempt_at <= TIMESTAMP '{stamp}')"
        schema = _project(columns)
        chunk: list[pa.RecordBatch] = []
        size = 0
        for batch in self._select(columns, where=where):
            chunk.append(batch)
            size += batch.num_rows
            while size >= batch_rows:
                rows = pa.Table.from_batches(chunk)
                yield rows.slice(0, batch_rows)
                rest = rows.slice(batch_rows)
                chunk, size = rest.to_batches(), rest.num_rows
        if size:
            yield pa.Table.from_batches(chunk, schema=schema)

    def read(
        self,
        columns: list[str] | None = None,
        *,
        execution_dates: list[str] | None = None,
    ) -> pa.Table:
        """The table's rows, optionally only some columns or some execution dates."""
        where = None
        if execution_dates is not None:
            # Parsing each date first keeps anything but a date out of the SQL text.
            dates = ", ".join(f"'{dt.date.fromisoformat(d).isoformat()}'" for d in execution_dates)
            where = f"execution_date IN ({dates})" if dates else "FALSE"
        batches = list(self._select(columns, where=where))
        return pa.Table.from_batches(batches, schema=_project(columns))

    def _select(
        self, columns: list[str] | None = None, *, where: str | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Stream rows through delta-rs's SQL engine, which skips files by their statistics.

        Files that delta-rs rewrote hold string views; each batch is cast back to the table's
        declared types so callers see one schema.
        """
        schema = _project(columns)
        sql = f"SELECT {', '.join(schema.names)} FROM job_status"
        if where:
            sql += f" WHERE {where}"
        reader = QueryBuilder().register("job_status", self.load()).execute(sql)
        for batch in pa.RecordBatchReader.from_stream(reader):
            if batch.num_rows:
                yield batch.cast(schema)

    def with_reload(self, operation: Callable[[DeltaTable], T]) -> T:
        """Run a read-then-write operation on a fresh load until it commits."""
        for attempt in range(1, self.max_commit_attempts + 1):
            table = self.load()
            try:
                return operation(table)
            except CommitFailedError as error:
                if attempt == self.max_commit_attempts:
                    raise CommitFailedError(
                        f"job_status at {self.url}: a concurrent writer won the commit "
                        f"{attempt} times in a row; nothing was written. Run the step again, "
                        "or raise max_commit_attempts if writers are this busy."
                    ) from error
                log.warning(
                    "job_status commit conflicted (attempt %d of %d); reloading: %s",
                    attempt,
                    self.max_commit_attempts,
                    error,
                )
                time.sleep(random.uniform(0.01, 0.05) * attempt)
        raise AssertionError("unreachable")


def _project(columns: list[str] | None) -> pa.Schema:
    """The table schema narrowed to `columns`; a name not in the table is a KeyError."""
    return SCHEMA if columns is None else pa.schema([SCHEMA.field(name) for name in columns])
