"""Benchmark: the AutoSys sync against the old updater's algorithm, side by side in one run.

Setup: 2,000 pending rows across 200 jobs; the emulator, in its own process, adds 10 ms of
latency to every call. Both algorithms start from identical copies of one table.

- Ours: `run_sync` with its default concurrency, one merge commit at the end. It runs
  `--trials` times, each on a fresh copy, and the median is reported.
- Old: the updater from the original design notes: sequential sends, and after each one a
  Delta UPDATE that sets YES on every row of that job id.

The old algorithm takes well over a minute for 2,000 rows, so by default it runs on the first
`--old-rows` rows and its time is scaled linearly to the full backlog. Its per-row cost only
grows as its commits pile up in the Delta log, so the scaled time understates it and the
printed speed-up is a lower bound. `--old-rows 2000` measures it in full.

Finally, a child process syncs 100,000 pending rows and reports its peak resident memory.
With the default cap of 50,000 rows per run, that takes two runs.

Run: python benchmarks/bench_autosys_sync.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from deltalake import DeltaTable

from jobops_dagster.autosys.client import build_event
from jobops_dagster.autosys.rest import RestAutoSysClient, RestSettings
from jobops_dagster.autosys.sync import SyncSettings, run_sync
from jobops_dagster.job_status.schema import Completion, Source, Status, event_id_for
from jobops_dagster.job_status.table import JobStatusTable

USERNAME = "bench"
PASSWORD = "bench-password"
LATENCY_MS = 10.0
START = dt.datetime(2026, 11, 30, 0, 0, tzinfo=dt.UTC)


def completions(rows: int, jobs: int) -> list[Completion]:
    out = []
    for index in range(rows):
        job = f"BENCH_{index % jobs:05d}"
        executed_at = START + dt.timedelta(seconds=index)
        status = Status.SUCCESS if index % 3 else Status.FAILURE
        out.append(Completion(
            event_id=event_id_for(source=Source.NOTIFICATION_FILE, job_name=job, file_name=None,
                                  status=status, executed_at=executed_at),
            job_name=job, file_name=None, status=status, executed_at=executed_at, vm=None,
            source=Source.NOTIFICATION_FILE,
        ))
    return out


@contextmanager
def emulator(latency_ms: float) -> Iterator[str]:
    """The emulator in its own process, as a remote AutoSys would be; yields its URL."""
    child = subprocess.Popen(
        [sys.executable, "-m", "jobops_dagster.autosys.emulator", "--port", "0",
         "--username", USERNAME, "--latency-ms", str(latency_ms)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "AUTOSYS_PASSWORD": PASSWORD},
    )
    try:
        assert child.stdout is not None
        yield json.loads(child.stdout.readline())["url"]
    finally:
        child.terminate()
        child.wait(timeout=10)


def client_for(url: str, concurrency: int) -> RestAutoSysClient:
    return RestAutoSysClient(RestSettings(base_url=url, username=USERNAME, password=PASSWORD,
                                          max_connections=concurrency))


def old_updater(url: str, table_url: str, *, limit: int) -> tuple[int, float]:
    """The design notes' updater: read the NO rows, then per row send and UPDATE by job id."""
    started = time.perf_counter()
    table = DeltaTable(table_url)
    pending = table.to_pyarrow_table(filters=[("autosys_update_flag", "=", "NO")]).to_pylist()
    client = client_for(url, 1)
    done = 0
    for row in pending[:limit]:
        client.send_status(build_event(event_id=row["event_id"], job_name=row["job_name"],
                                       status=row["status"]))
        DeltaTable(table_url).update(
            predicate=f"job_name = '{row['job_name']}'",
            updates={"autosys_update_flag": "'YES'"},
        )
        done += 1
    client.close()
    return done, time.perf_counter() - started


def ours(url: str, table_url: str, settings: SyncSettings) -> tuple[float, float, int]:
    """Wall time of one sync, the time of its single commit, and rows accepted."""
    marks: dict[str, float] = {}
    client = client_for(url, settings.concurrency)
    started = time.perf_counter()
    report = run_sync(table=JobStatusTable(table_url), client=client, settings=settings,
                      before_commit=lambda _rows: marks.setdefault("commit", time.perf_counter()))
    finished = time.perf_counter()
    client.close()
    return finished - started, finished - marks["commit"], report.accepted


def memory_child(url: str, table_url: str) -> None:
    """Runs in a child process: sync until nothing is pending (the default per-run row cap
    splits a big backlog over several runs), then print totals and peak RSS as JSON."""
    settings = SyncSettings()
    client = client_for(url, settings.concurrency)
    started = time.perf_counter()
    accepted = runs = 0
    while True:
        report = run_sync(table=JobStatusTable(table_url), client=client, settings=settings)
        accepted, runs = accepted + report.accepted, runs + 1
        if report.still_pending == 0 or report.sent == 0:
            break
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sys.stdout.write(json.dumps({"accepted": accepted, "runs": runs, "peak_mib": peak_kib / 1024,
                                 "seconds": time.perf_counter() - started}) + "\n")


def memory_run(workdir: Path, rows: int) -> dict[str, float]:
    table_url = str(workdir / "memory")
    JobStatusTable(table_url).insert_missing(completions(rows, jobs=rows // 10),
                                             now=dt.datetime.now(dt.UTC))
    with emulator(latency_ms=0) as url:
        done = subprocess.run(
            [sys.executable, __file__, "--memory-child", url, table_url],
            check=True, capture_output=True, text=True,
        )
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2_000)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--old-rows", type=int, default=250,
                        help="rows the old algorithm runs on before scaling to --rows")
    parser.add_argument("--trials", type=int, default=3,
                        help="runs of ours, each on a fresh copy; the median is reported")
    parser.add_argument("--memory-rows", type=int, default=100_000)
    parser.add_argument("--memory-child", nargs=2, metavar=("URL", "TABLE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return
    settings = SyncSettings()
    with tempfile.TemporaryDirectory(prefix="bench-autosys-") as tmp:
        workdir = Path(tmp)
        source_url, old_url = str(workdir / "source"), str(workdir / "old")
        JobStatusTable(source_url).insert_missing(completions(args.rows, args.jobs),
                                                  now=dt.datetime.now(dt.UTC))
        shutil.copytree(source_url, old_url)
        with emulator(LATENCY_MS) as url:
            trials = []
            for trial in range(args.trials):
                copy = str(workdir / f"ours-{trial}")
                shutil.copytree(source_url, copy)
                trials.append(ours(url, copy, settings))
            our_s, commit_s, accepted = statistics.median_low(trials)
            old_done, old_measured_s = old_updater(url, old_url, limit=args.old_rows)
        old_s = old_measured_s * args.rows / old_done
        bound_s = args.rows * LATENCY_MS / 1000 / settings.concurrency + commit_s
        memory = memory_run(workdir, args.memory_rows)

    scaled = "" if old_done == args.rows else f" (measured {old_done} rows in " \
        f"{old_measured_s:.2f} s, scaled to {args.rows})"
    lines = [
        f"AutoSys sync benchmark: {args.rows} pending rows, {args.jobs} jobs, "
        f"{LATENCY_MS:.0f} ms latency per call, concurrency {settings.concurrency}",
        f"  ours:          {our_s:8.2f} s  (median of {len(trials)}: "
        f"{', '.join(f'{t[0]:.2f}' for t in trials)}; {accepted} accepted, one commit of "
        f"{commit_s:.2f} s)",
        f"  old algorithm: {old_s:8.2f} s{scaled}",
        f"  speed-up:      {old_s / our_s:8.1f}x   (target >= 20x)",
        f"  lower bound:   {bound_s:8.2f} s  (rows x latency / concurrency + one commit)",
        f"  ours / bound:  {our_s / bound_s:8.2f}    (target <= 2)",
        f"  {args.memory_rows} rows:  peak RSS {memory['peak_mib']:.0f} MiB (target < 1024 MiB); "
        f"{memory['accepted']:.0f} accepted in {memory['runs']:.0f} run(s), "
        f"{memory['seconds']:.1f} s",
    ]
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
