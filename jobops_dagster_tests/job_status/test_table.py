"""The job_status Delta table on disk: one row per completion, flags that only move
forward, schema evolution, and concurrent writers that never lose a row."""

import datetime as dt
import multiprocessing

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from jobops_dagster.job_status.schema import (
    SCHEMA,
    TIMESTAMP,
    Completion,
    Flag,
    Source,
    Status,
)
from jobops_dagster.job_status.table import JobStatusTable
from jobops_dagster_tests.job_status.support import NOW, flags_by_event


def completion(n: int, *, days_ago: int = 0) -> Completion:
    return Completion(
        event_id=f"event-{n:05d}",
        job_name=f"JOB_{n % 7}",
        file_name=f"file-{n}.csv",
        status=Status.SUCCESS if n % 3 else Status.FAILURE,
        executed_at=NOW - dt.timedelta(days=days_ago, minutes=n),
        vm=None,
        source=Source.NOTIFICATION_FILE,
    )


def outcome(rows: pa.Table, flag: Flag, *, next_attempt_at: dt.datetime | None = None) -> pa.Table:
    n = rows.num_rows
    return pa.table(
        {
            "event_id": rows["event_id"],
            "execution_date": rows["execution_date"],
            "autosys_update_flag": [flag.value] * n,
            "attempts": pa.array([1] * n, pa.int32()),
            "last_error": [None if flag is Flag.YES else "503"] * n,
            "updated_at": pa.array([NOW] * n, TIMESTAMP),
            "next_attempt_at": pa.array([next_attempt_at] * n, TIMESTAMP),
        }
    )


def test_table_first_use_creates_partitioned_table(table: JobStatusTable, table_url: str) -> None:
    table.load()
    delta = DeltaTable(table_url)
    assert delta.metadata().partition_columns == ["execution_date"]
    assert {f.name for f in delta.schema().fields} == set(SCHEMA.names)


def test_insert_missing_same_rows_twice_keeps_one_row_each(table: JobStatusTable) -> None:
    rows = [completion(n, days_ago=n % 3) for n in range(30)]
    first = table.insert_missing(rows, now=NOW)
    again = table.insert_missing([*rows, completion(99)], now=NOW)
    stored = table.read(["event_id", "autosys_update_flag", "attempts"])
    assert (first.rows, again.rows) == (30, 1)
    assert stored.num_rows == 31
    assert len(set(stored["event_id"].to_pylist())) == 31
    assert set(stored["autosys_update_flag"].to_pylist()) == {"NO"}
    assert set(stored["attempts"].to_pylist()) == {0}


def test_apply_sync_results_never_reopens_a_yes_row(table: JobStatusTable) -> None:
    table.insert_missing([completion(n) for n in range(4)], now=NOW)
    pending = next(table.pending(now=NOW))
    table.apply_sync_results(outcome(pending.slice(0, 2), Flag.YES))
    written = table.apply_sync_results(outcome(pending, Flag.NO))
    flags = flags_by_event(table)
    assert written.rows == 2
    assert sorted(flags.values()) == ["NO", "NO", "YES", "YES"]


def test_insert_missing_after_sync_keeps_the_yes_flag(table: JobStatusTable) -> None:
    rows = [completion(n) for n in range(3)]
    table.insert_missing(rows, now=NOW)
    table.apply_sync_results(outcome(next(table.pending(now=NOW)), Flag.YES))
    assert table.insert_missing(rows, now=NOW).rows == 0
    assert set(table.read(["autosys_update_flag"])["autosys_update_flag"].to_pylist()) == {"YES"}


def test_pending_returns_only_due_no_rows_in_bounded_chunks(table: JobStatusTable) -> None:
    table.insert_missing([completion(n) for n in range(25)], now=NOW)
    first = next(table.pending(now=NOW))
    table.apply_sync_results(outcome(first.slice(0, 5), Flag.YES))
    later = NOW + dt.timedelta(minutes=10)
    table.apply_sync_results(outcome(first.slice(5, 5), Flag.NO, next_attempt_at=later))

    chunks = list(table.pending(now=NOW, batch_rows=4))
    assert sum(c.num_rows for c in chunks) == 15
    assert [c.num_rows for c in chunks] == [4, 4, 4, 3]
    assert sum(c.num_rows for c in table.pending(now=later)) == 20
    assert sum(c.num_rows for c in table.pending(now=None)) == 20
    [narrow] = table.pending(now=None, columns=["event_id"])
    assert narrow.column_names == ["event_id"]


def test_table_older_schema_gains_new_columns_and_keeps_rows(table_url: str) -> None:
    old_schema = pa.schema([f for f in SCHEMA if f.name not in ("next_attempt_at", "vm")])
    old_row = {name: [value] for name, value in {
        "event_id": "old-1", "job_name": "OLD_JOB", "file_name": None, "status": "success",
        "executed_at": NOW, "execution_date": NOW.date().isoformat(), "logged_at": NOW,
        "source": "notification_file", "autosys_update_flag": "YES", "attempts": 1,
        "last_error": None, "updated_at": NOW,
    }.items()}
    write_deltalake(
        table_url, pa.table(old_row, schema=old_schema), partition_by=["execution_date"]
    )

    table = JobStatusTable(table_url)
    table.insert_missing([completion(1)], now=NOW)

    stored = table.read(["event_id", "vm", "next_attempt_at", "autosys_update_flag"])
    assert sorted(stored["event_id"].to_pylist()) == ["event-00001", "old-1"]
    assert stored["vm"].to_pylist() == [None, None]
    assert "YES" in stored["autosys_update_flag"].to_pylist()


def _insert_range(url: str, start: int, stop: int) -> int:
    return JobStatusTable(url, max_commit_attempts=50).insert_missing(
        [completion(n) for n in range(start, stop)], now=NOW
    ).rows


def test_insert_missing_concurrent_writers_lose_nothing_and_duplicate_nothing(
    table: JobStatusTable, table_url: str
) -> None:
    table.load()
    ranges = [(0, 60), (40, 100), (80, 140), (120, 180)]
    spawn = multiprocessing.get_context("spawn")
    with spawn.Pool(4) as pool:
        inserted = pool.starmap(_insert_range, [(table_url, a, b) for a, b in ranges])
    ids = table.read(["event_id"])["event_id"].to_pylist()
    assert sorted(ids) == [f"event-{n:05d}" for n in range(180)]
    assert sum(inserted) == 180


@pytest.mark.parametrize("bad", ["2026-13-01", "x' OR '1'='1"])
def test_read_execution_dates_must_be_dates(table: JobStatusTable, bad: str) -> None:
    table.load()
    with pytest.raises(ValueError):
        table.read(execution_dates=[bad])
