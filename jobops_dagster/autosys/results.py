"""Send outcomes and the single update table a sync commits to `job_status`."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt

import pyarrow as pa

from jobops_dagster.autosys.client import FailureKind
from jobops_dagster.job_status.schema import SCHEMA, Flag

UPDATE_SCHEMA = pa.schema(
    [SCHEMA.field(name) for name in ("event_id", "execution_date", "autosys_update_flag",
                                     "attempts", "last_error", "updated_at", "next_attempt_at")]
)
_MAX_ERROR_CHARS = 500


@dataclasses.dataclass(frozen=True, kw_only=True)
class Outcome:
    """One row's attempt. `kind` is None when AutoSys accepted; `called` is False when the row
    failed validation before any call was made."""

    event_id: str
    execution_date: str
    attempts: int
    kind: FailureKind | None
    error: str | None
    retry_after_s: float | None
    called: bool
    at: dt.datetime


def next_attempt_at(
    *,
    at: dt.datetime,
    attempts: int,
    kind: FailureKind,
    base: dt.timedelta,
    cap: dt.timedelta,
    retry_after_s: float | None = None,
) -> dt.datetime:
    """When a failed row may go again: doubling from `base` per attempt, never beyond `cap`.

    A permanent failure waits the full cap, since only a change in AutoSys can fix it. A
    server's Retry-After is a floor.
    """
    if kind is FailureKind.PERMANENT:
        delay = cap
    else:
        # Past 2**30 the doubling has long overrun any sensible cap.
        delay = min(cap, base * 2 ** min(max(attempts - 1, 0), 30))
    if retry_after_s is not None:
        delay = max(delay, dt.timedelta(seconds=retry_after_s))
    return at + delay


class ResultsBuilder:
    """Collects outcomes as columns, so a large backlog costs a few arrays, not objects."""

    def __init__(self, base: dt.timedelta, cap: dt.timedelta) -> None:
        self.base = base
        self.cap = cap
        self.columns: dict[str, list[object]] = {name: [] for name in UPDATE_SCHEMA.names}
        self.accepted: set[str] = set()
        self.failures: collections.Counter[FailureKind] = collections.Counter()
        self.sent = 0
        self.sample_error: str | None = None

    def add(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            self.sent += outcome.called
            columns = self.columns
            columns["event_id"].append(outcome.event_id)
            columns["execution_date"].append(outcome.execution_date)
            columns["attempts"].append(outcome.attempts)
            columns["updated_at"].append(outcome.at)
            if outcome.kind is None:
                self.accepted.add(outcome.event_id)
                columns["autosys_update_flag"].append(Flag.YES.value)
                columns["last_error"].append(None)
                columns["next_attempt_at"].append(None)
                continue
            self.failures[outcome.kind] += 1
            message = f"{outcome.kind.value}: {outcome.error}"[:_MAX_ERROR_CHARS]
            self.sample_error = self.sample_error or message
            columns["autosys_update_flag"].append(Flag.NO.value)
            columns["last_error"].append(message)
            columns["next_attempt_at"].append(next_attempt_at(
                at=outcome.at, attempts=outcome.attempts, kind=outcome.kind,
                base=self.base, cap=self.cap, retry_after_s=outcome.retry_after_s,
            ))

    def table(self) -> pa.Table:
        return pa.table(self.columns, schema=UPDATE_SCHEMA)
