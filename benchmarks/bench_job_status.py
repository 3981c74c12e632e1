"""job_status benchmarks, each against its naive baseline, measured side by side in one run.

1. Ingest: 10,000 notification files recorded in one commit, against one append commit
   per file. A per-file commit gets slower as the log grows, so by default the baseline runs
   on the first BASELINE_FILES files and its per-file cost is scaled to 10,000: that
   understates the baseline, which makes the printed ratio conservative. Set
   BENCH_FULL_BASELINE=1 to run it on all 10,000 (about ten minutes here).
2. Pending rows: the `NO` rows of a 1,000,000-row table holding 1,000 of them, against a
   full scan followed by a filter.
"""

import datetime as dt
import os
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, QueryBuilder, write_deltalake

from jobops_dagster.job_status.ingest import record_batch
from jobops_dagster.job_status.notifications import NotificationFolder
from jobops_dagster.job_status.schema import PARTITION_BY, SCHEMA, completions_to_arrow
from jobops_dagster.job_status.table import JobStatusTable

FILES = 10_000
BASELINE_FILES = FILES if os.environ.get("BENCH_FULL_BASELINE") == "1" else 1_000
TABLE_ROWS = 1_000_000
PENDING_ROWS = 1_000
NOW = dt.datetime.now(dt.UTC)


def write_files(folder: NotificationFolder, count: int) -> list[str]:
    names = []
    for n in range(count):
        name = f"n{n:05d}.json"
        folder.write(
            name,
            {
                "version": 1,
                "job_name": f"BATCH_{n % 200}",
                "file_name": f"input-{n}.csv",
                "status": "success" if n % 10 else "failure",
                "executed_at": (NOW - dt.timedelta(seconds=n)).isoformat(),
            },
        )
        names.append(name)
    return names


def bench_ingest(root: Path) -> None:
    ours_folder = NotificationFolder(root / "ours", min_age=dt.timedelta(0))
    names = write_files(ours_folder, FILES)
    by_date: dict[str, list[str]] = {}
    good, _ = ours_folder.read([ours_folder.root / name for name in names], now=NOW)
    for notification in good:
        by_date.setdefault(notification.completion.execution_date, []).append(
            notification.path.name
        )
    table = JobStatusTable(str(root / "ours_table"))
    table.load()
    start = time.perf_counter()
    commits = 0
    for date, files in by_date.items():
        record_batch(ours_folder, table, execution_date=date, files=files, now=NOW)
        commits += 1
    ours = time.perf_counter() - start
    rows = table.read(["event_id"]).num_rows

    base_folder = NotificationFolder(root / "baseline", min_age=dt.timedelta(0))
    base_names = write_files(base_folder, BASELINE_FILES)
    base_url = str(root / "baseline_table")
    start = time.perf_counter()
    for name in base_names:
        [notification], _ = base_folder.read([base_folder.root / name], now=NOW)
        write_deltalake(
            base_url,
            completions_to_arrow([notification.completion], logged_at=NOW),
            mode="append",
            partition_by=PARTITION_BY,
        )
    baseline = (time.perf_counter() - start) * FILES / BASELINE_FILES

    print(f"ingest {FILES:,} files: ours {ours:.2f} s in {commits} commit(s), {rows:,} rows")
    scaled = "" if BASELINE_FILES == FILES else f" (measured on {BASELINE_FILES:,}, scaled)"
    print(f"  baseline, one append per file: {baseline:.1f} s{scaled}")
    print(f"  speed-up: {baseline / ours:.1f}x  (target >= 20x)")


def bench_pending(root: Path) -> None:
    url = str(root / "pending_table")
    synced = TABLE_ROWS - PENDING_ROWS
    days = [(NOW - dt.timedelta(days=d)).date().isoformat() for d in range(100)]
    per_write = 100_000
    for offset in range(0, synced, per_write):
        n = min(per_write, synced - offset)
        ids = pa.array([f"old-{i}" for i in range(offset, offset + n)])
        write_deltalake(url, _rows(ids, days, flag="YES"), mode="append", partition_by=PARTITION_BY)
    ids = pa.array([f"new-{i}" for i in range(PENDING_ROWS)])
    write_deltalake(url, _rows(ids, days[:1], flag="NO"), mode="append", partition_by=PARTITION_BY)
    table = JobStatusTable(url)
    assert DeltaTable(url).count() == TABLE_ROWS

    start = time.perf_counter()
    ours_rows = sum(chunk.num_rows for chunk in table.pending(now=NOW))
    ours = time.perf_counter() - start

    start = time.perf_counter()
    reader = QueryBuilder().register("t", DeltaTable(url)).execute("SELECT * FROM t")
    everything = pa.RecordBatchReader.from_stream(reader).read_all().cast(SCHEMA)
    base_rows = everything.filter(pc.equal(everything["autosys_update_flag"], "NO")).num_rows
    baseline = time.perf_counter() - start

    assert ours_rows == base_rows == PENDING_ROWS, (ours_rows, base_rows)
    print(f"pending rows ({PENDING_ROWS:,} NO in {TABLE_ROWS:,}): ours {ours * 1000:.0f} ms")
    print(f"  baseline, full scan then filter: {baseline * 1000:.0f} ms")
    print(f"  speed-up: {baseline / ours:.1f}x  (target >= 10x)")


def _rows(ids: pa.Array, days: list[str], *, flag: str) -> pa.Table:
    n = len(ids)
    date = pa.array([days[i % len(days)] for i in range(n)])
    stamp = pa.array([NOW] * n, SCHEMA.field("executed_at").type)
    return pa.table(
        {
            "event_id": ids,
            "job_name": pa.array([f"JOB_{i % 200}" for i in range(n)]),
            "file_name": pa.nulls(n, pa.string()),
            "status": pa.array(["success"] * n),
            "executed_at": stamp,
            "execution_date": date,
            "logged_at": stamp,
            "vm": pa.nulls(n, pa.string()),
            "source": pa.array(["notification_file"] * n),
            "autosys_update_flag": pa.array([flag] * n),
            "attempts": pa.array([1 if flag == "YES" else 0] * n, pa.int32()),
            "last_error": pa.nulls(n, pa.string()),
            "updated_at": stamp if flag == "YES" else pa.nulls(n, stamp.type),
            "next_attempt_at": pa.nulls(n, stamp.type),
        },
        schema=SCHEMA,
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-job-status-") as root:
        bench_ingest(Path(root))
        bench_pending(Path(root))


if __name__ == "__main__":
    main()
