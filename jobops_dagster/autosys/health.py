"""Health of AutoSys delivery, judged from the rows still flagged `NO`."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from jobops_dagster.autosys.client import FailureKind

Severity = Literal["ok", "warn", "error"]
HEALTH_COLUMNS = ["job_name", "logged_at", "attempts", "last_error"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Staleness:
    """How long the oldest pending status has waited, and which jobs wait longest."""

    pending: int
    oldest_age_minutes: float
    severity: Severity
    oldest_jobs: list[tuple[str, float]]


@dataclasses.dataclass(frozen=True, kw_only=True)
class PermanentFailures:
    rows: int
    jobs: list[str]


def staleness(
    pending: pa.Table,
    *,
    now: dt.datetime,
    warn_after: dt.timedelta,
    error_after: dt.timedelta,
    examples: int = 5,
) -> Staleness:
    """Grade the wait of the oldest pending row: past `warn_after` warns, past `error_after`
    errs. Age counts from when the row was logged, the moment it began waiting for AutoSys."""
    if pending.num_rows == 0:
        return Staleness(pending=0, oldest_age_minutes=0.0, severity="ok", oldest_jobs=[])
    oldest = pending.sort_by([("logged_at", "ascending")]).slice(0, examples * 4)
    jobs: dict[str, float] = {}
    for row in oldest.select(["job_name", "logged_at"]).to_pylist():
        if row["job_name"] not in jobs and len(jobs) < examples:
            jobs[row["job_name"]] = round((now - row["logged_at"]).total_seconds() / 60, 1)
    age = max(0.0, (now - pc.min(pending.column("logged_at")).as_py()).total_seconds() / 60)
    severity: Severity = "ok"
    if age > error_after.total_seconds() / 60:
        severity = "error"
    elif age > warn_after.total_seconds() / 60:
        severity = "warn"
    return Staleness(pending=pending.num_rows, oldest_age_minutes=round(age, 1),
                     severity=severity, oldest_jobs=list(jobs.items()))


def permanent_failures(pending: pa.Table, *, min_attempts: int, examples: int = 5) -> (
    PermanentFailures
):
    """Pending rows whose last `min_attempts` or more tries ended in a permanent refusal."""
    if pending.num_rows == 0:
        return PermanentFailures(rows=0, jobs=[])
    errors = pc.fill_null(pending.column("last_error"), "")
    failing = pc.and_(
        pc.starts_with(errors, pattern=f"{FailureKind.PERMANENT.value}:"),
        pc.greater_equal(pending.column("attempts"), min_attempts),
    )
    rows = pending.filter(failing)
    jobs = sorted(set(rows.column("job_name").to_pylist()))
    return PermanentFailures(rows=rows.num_rows, jobs=jobs[:examples])
