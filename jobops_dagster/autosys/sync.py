"""Send pending job statuses to AutoSys and record the outcomes in one commit.

Per job, statuses go out in execution order and a failure holds back that job's later
statuses. Different jobs go out concurrently, at most `concurrency` at a time. A row turns
`YES` only when AutoSys accepted its event; everything else stays `NO` with a next attempt
time. Delivery is at least once: if the process dies after a send and before the commit, the
next run sends that status again.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from jobops_dagster.autosys.client import (
    AutoSysClient,
    AutoSysConfigurationError,
    AutoSysError,
    FailureKind,
    TransientAutoSysError,
    build_event,
)
from jobops_dagster.autosys.pending import QueuedRow, SyncTable, job_queues, read_pending_work
from jobops_dagster.autosys.results import Outcome, ResultsBuilder

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SyncSettings:
    """How hard to push AutoSys and how long failed rows wait before their next attempt."""

    concurrency: int = 16
    batch_rows: int = 10_000
    backoff_base: dt.timedelta = dt.timedelta(minutes=1)
    backoff_cap: dt.timedelta = dt.timedelta(hours=1)
    # Bounds one run's sends and results, so memory does not grow with the backlog; the rest
    # of a large backlog goes out on the next runs, oldest jobs first.
    max_rows_per_run: int | None = 50_000

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")
        if self.backoff_cap < self.backoff_base:
            raise ValueError(
                f"backoff_cap ({self.backoff_cap}) is below backoff_base ({self.backoff_base}); "
                "set the cap to at least the base"
            )


@dataclasses.dataclass(frozen=True, kw_only=True)
class SyncReport:
    """What one sync did. `waiting` rows were due but held behind an earlier failed status;
    `deferred` rows were left for the next run by `max_rows_per_run`."""

    pending_before: int
    sent: int
    accepted: int
    failed_transient: int
    failed_permanent: int
    waiting: int
    not_due: int
    deferred: int
    still_pending: int
    oldest_pending_age_minutes: float
    table_version: int | None
    duration_s: float


class _Sender:
    """Sends one job's queue in order and stops it at the first failure."""

    def __init__(self, client: AutoSysClient, clock: Callable[[], dt.datetime]) -> None:
        self.client = client
        self.clock = clock
        self.stop = threading.Event()

    def send_queue(self, queue: list[QueuedRow]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for row in queue:
            if self.stop.is_set():
                break
            called = False
            try:
                event = build_event(event_id=row.event_id, job_name=row.job_name,
                                    status=row.status)
                called = True
                self.client.send_status(event)
            except AutoSysConfigurationError:
                self.stop.set()
                raise
            except AutoSysError as error:
                retry_after = error.retry_after_s if isinstance(
                    error, TransientAutoSysError) else None
                outcomes.append(Outcome(
                    event_id=row.event_id, execution_date=row.execution_date,
                    attempts=row.attempts + 1, kind=error.kind, error=str(error),
                    retry_after_s=retry_after, called=called, at=self.clock(),
                ))
                log.debug("job %s: %s failure: %s", row.job_name, error.kind, error)
                break
            outcomes.append(Outcome(
                event_id=row.event_id, execution_date=row.execution_date,
                attempts=row.attempts + 1, kind=None, error=None, retry_after_s=None,
                called=True, at=self.clock(),
            ))
        return outcomes


def _oldest_age_minutes(work: pa.Table, accepted: set[str], now: dt.datetime) -> float:
    if work.num_rows == 0:
        return 0.0
    still = pc.invert(pc.is_in(work.column("event_id"), value_set=pa.array(list(accepted),
                                                                            pa.string())))
    oldest = pc.min(work.filter(still).column("logged_at")).as_py()
    return 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds() / 60)


def run_sync(
    *,
    table: SyncTable,
    client: AutoSysClient,
    settings: SyncSettings = SyncSettings(),
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    logger: logging.Logger = log,
    before_commit: Callable[[int], None] | None = None,
) -> SyncReport:
    """One sync pass over the pending rows; raise AutoSysConfigurationError having written nothing.

    `before_commit` is called with the number of rows about to be written, after every send.
    """
    started = time.monotonic()
    now = clock()
    work = read_pending_work(table, batch_rows=settings.batch_rows)
    logger.info("AutoSys sync: %d pending rows to %s, concurrency %d",
                work.num_rows, client.target, settings.concurrency)
    sender = _Sender(client, clock)
    results = ResultsBuilder(settings.backoff_base, settings.backoff_cap)
    not_due = waiting = deferred = 0
    window = settings.concurrency * 2
    with cf.ThreadPoolExecutor(settings.concurrency, thread_name_prefix="autosys") as pool:
        in_flight: dict[cf.Future[list[Outcome]], int] = {}
        try:
            queues = job_queues(work, now=now, max_rows=settings.max_rows_per_run)
            for queue, held, later in queues:
                not_due += held
                deferred += later
                if not queue:
                    continue
                in_flight[pool.submit(sender.send_queue, queue)] = len(queue)
                while len(in_flight) >= window:
                    waiting += _collect(in_flight, results, cf.FIRST_COMPLETED)
            while in_flight:
                waiting += _collect(in_flight, results, cf.ALL_COMPLETED)
        except AutoSysConfigurationError:
            sender.stop.set()
            logger.error("AutoSys sync stopped: configuration error; no row was changed")
            raise
    updates = results.table()
    if before_commit is not None:
        before_commit(updates.num_rows)
    version = table.apply_sync_results(updates).version if updates.num_rows else None
    finished = clock()
    report = SyncReport(
        pending_before=work.num_rows, sent=results.sent, accepted=len(results.accepted),
        failed_transient=results.failures[FailureKind.TRANSIENT],
        failed_permanent=results.failures[FailureKind.PERMANENT],
        waiting=waiting, not_due=not_due, deferred=deferred,
        still_pending=work.num_rows - len(results.accepted),
        oldest_pending_age_minutes=_oldest_age_minutes(work, results.accepted, finished),
        table_version=version, duration_s=time.monotonic() - started,
    )
    logger.info(
        "AutoSys sync: sent %d, accepted %d, failed %d transient / %d permanent, %d waiting "
        "behind a failure, %d not due, %d deferred, %d still pending; table version %s; %.2fs",
        report.sent, report.accepted, report.failed_transient, report.failed_permanent,
        report.waiting, report.not_due, report.deferred, report.still_pending, version,
        report.duration_s,
    )
    if results.sample_error is not None:
        logger.warning("AutoSys sync: %d sends failed; for example: %s",
                       report.failed_transient + report.failed_permanent, results.sample_error)
    return report


def _collect(
    in_flight: dict[cf.Future[list[Outcome]], int],
    results: ResultsBuilder,
    when: str,
) -> int:
    """Record finished queues; return how many of their rows were held behind a failure."""
    done, _ = cf.wait(in_flight, return_when=when)
    held = 0
    for future in done:
        queued = in_flight.pop(future)
        outcomes = future.result()
        results.add(outcomes)
        held += queued - len(outcomes)
    return held
