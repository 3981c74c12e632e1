"""What every AutoSys backend offers: send one job status, and say how a failure should be handled.

A send either returns (AutoSys accepted the event) or raises one of three errors:

    AutoSysError
    ├── TransientAutoSysError       retry later: timeouts, resets, 5xx, 429
    ├── PermanentAutoSysError       this row cannot succeed as it is: unknown job, bad request
    └── AutoSysConfigurationError   the setup is wrong: credentials, missing binary; stop the run
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Protocol

from jobops_dagster.job_status.schema import AUTOSYS_JOB_NAME, Status


class AutoSysStatus(enum.StrEnum):
    """The status values AutoSys's CHANGE_STATUS event takes (case-sensitive)."""

    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"


class FailureKind(enum.StrEnum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    CONFIGURATION = "configuration"


class AutoSysError(Exception):
    """A status could not be delivered to AutoSys."""

    kind: FailureKind


class TransientAutoSysError(AutoSysError):
    """AutoSys or the path to it failed in a way that a later attempt may not."""

    kind = FailureKind.TRANSIENT

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PermanentAutoSysError(AutoSysError):
    """AutoSys refused this one event; sending it again unchanged will not help."""

    kind = FailureKind.PERMANENT


class AutoSysConfigurationError(AutoSysError):
    """The client is set up wrongly; no event can succeed until an operator fixes it."""

    kind = FailureKind.CONFIGURATION


@dataclasses.dataclass(frozen=True, kw_only=True)
class StatusEvent:
    """One CHANGE_STATUS event: the job, its final status, and a comment naming our row."""

    event_id: str
    job_name: str
    status: AutoSysStatus

    @property
    def comment(self) -> str:
        # The event id in the comment lets an operator (and the tests) tie an AutoSys event
        # back to its job_status row.
        return f"jobops event_id={self.event_id}"


def to_autosys_status(status: str) -> AutoSysStatus:
    """Map a job_status `status` value onto AutoSys's; raise PermanentAutoSysError if unknown."""
    try:
        return {
            Status.SUCCESS: AutoSysStatus.SUCCESS,
            Status.FAILURE: AutoSysStatus.FAILURE,
        }[Status(status)]
    except ValueError as error:
        raise PermanentAutoSysError(
            f"status {status!r} has no AutoSys equivalent: job_status rows must say "
            f"{Status.SUCCESS.value!r} or {Status.FAILURE.value!r}"
        ) from error


def build_event(*, event_id: str, job_name: str, status: str) -> StatusEvent:
    """A validated event for one row, so that a bad row fails before any call is made."""
    if not AUTOSYS_JOB_NAME.fullmatch(job_name):
        raise PermanentAutoSysError(
            f"job name {job_name!r} is not a valid AutoSys job name (1 to 64 characters from "
            "A-Z a-z 0-9 _ . # -); correct the job name where the completion is produced"
        )
    return StatusEvent(event_id=event_id, job_name=job_name, status=to_autosys_status(status))


class AutoSysClient(Protocol):
    """A backend that delivers CHANGE_STATUS events. Safe to call from several threads."""

    @property
    def target(self) -> str:
        """Where events go, for logs: a URL or a binary path, never a credential."""
        ...

    def send_status(self, event: StatusEvent) -> None:
        """Deliver `event`; return once AutoSys accepted it, or raise an AutoSysError."""
        ...

    def close(self) -> None: ...
