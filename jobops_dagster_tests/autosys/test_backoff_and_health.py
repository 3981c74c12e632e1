"""Pure functions behind the sync and its checks: when a failed row may go again, and how
the pending rows are graded for staleness and permanent failures."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from jobops_dagster.autosys.client import FailureKind
from jobops_dagster.autosys.health import HEALTH_COLUMNS, permanent_failures, staleness
from jobops_dagster.autosys.results import next_attempt_at
from jobops_dagster.job_status.schema import SCHEMA

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
BASE, CAP = dt.timedelta(minutes=1), dt.timedelta(minutes=30)


@pytest.mark.parametrize(("attempts", "minutes"), [(1, 1), (2, 2), (3, 4), (5, 16), (6, 30),
                                                   (60, 30)])
def test_next_attempt_at_transient_doubles_up_to_cap(attempts: int, minutes: int) -> None:
    when = next_attempt_at(at=NOW, attempts=attempts, kind=FailureKind.TRANSIENT, base=BASE,
                           cap=CAP)
    assert when == NOW + dt.timedelta(minutes=minutes)


def test_next_attempt_at_retry_after_is_a_floor() -> None:
    when = next_attempt_at(at=NOW, attempts=1, kind=FailureKind.TRANSIENT, base=BASE, cap=CAP,
                           retry_after_s=300)
    assert when == NOW + dt.timedelta(minutes=5)


def test_next_attempt_at_permanent_waits_the_cap() -> None:
    when = next_attempt_at(at=NOW, attempts=1, kind=FailureKind.PERMANENT, base=BASE, cap=CAP)
    assert when == NOW + CAP


def pending(rows: list[tuple[str, int, int, str | None]]) -> pa.Table:
    """(job, minutes since logged, attempts, last_error) rows in the health columns."""
    schema = pa.schema([SCHEMA.field(name) for name in HEALTH_COLUMNS])
    return pa.table(
        {
            "job_name": [job for job, _, _, _ in rows],
            "logged_at": [NOW - dt.timedelta(minutes=age) for _, age, _, _ in rows],
            "attempts": [attempts for _, _, attempts, _ in rows],
            "last_error": [error for _, _, _, error in rows],
        },
        schema=schema,
    )


@pytest.mark.parametrize(("age", "severity"), [(5, "ok"), (61, "warn"), (241, "error")])
def test_staleness_grades_oldest_row(age: int, severity: str) -> None:
    graded = staleness(pending([("A", age, 0, None), ("B", 1, 0, None)]), now=NOW,
                       warn_after=dt.timedelta(minutes=60), error_after=dt.timedelta(hours=4))
    assert graded.severity == severity
    assert graded.oldest_age_minutes == age
    assert graded.oldest_jobs[0] == ("A", age)


def test_staleness_no_pending_rows_is_ok() -> None:
    graded = staleness(pending([]), now=NOW, warn_after=BASE, error_after=CAP)
    assert (graded.severity, graded.pending, graded.oldest_jobs) == ("ok", 0, [])


def test_permanent_failures_counts_only_repeated_permanent_errors() -> None:
    found = permanent_failures(
        pending([("GONE", 1, 3, "permanent: 404"), ("FLAKY", 1, 5, "transient: 503"),
                 ("NEW", 1, 1, "permanent: 404"), ("OK", 1, 0, None)]),
        min_attempts=2,
    )
    assert (found.rows, found.jobs) == (1, ["GONE"])
