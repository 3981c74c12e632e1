"""The notification file format, version 1: one JSON object reporting one completion."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from jobops_dagster.job_status.schema import Completion, Status, validate_job_name

FORMAT_VERSION = 1


class InvalidNotification(ValueError):
    """A notification file that cannot become a `job_status` row; the message says why."""


def parse_notification(
    raw: bytes, *, now: dt.datetime, max_future: dt.timedelta = dt.timedelta(hours=1)
) -> Completion:
    """The completion a notification file reports, or InvalidNotification saying what is wrong."""
    if not raw.strip():
        raise InvalidNotification("the file is empty; write one JSON object per file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidNotification(
            f"the file is not UTF-8 (bad byte at offset {error.start}); write it as UTF-8"
        ) from error
    try:
        body = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidNotification(
            f"the file is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from error
    if not isinstance(body, dict):
        raise InvalidNotification(f"expected a JSON object, got {type(body).__name__}")

    version = body.get("version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise InvalidNotification(
            f"'version' is {version!r}; this reader understands version {FORMAT_VERSION}"
        )
    job_name = _field(body, "job_name", str, required=True)
    try:
        validate_job_name(job_name)
    except ValueError as error:
        raise InvalidNotification(str(error)) from error
    status_text = _field(body, "status", str, required=True)
    try:
        status = Status(status_text.lower())
    except ValueError as error:
        allowed = ", ".join(repr(s.value) for s in Status)
        raise InvalidNotification(f"'status' is {status_text!r}; use one of {allowed}") from error
    executed_at = _timestamp(_field(body, "executed_at", str, required=True))
    if executed_at > now + max_future:
        raise InvalidNotification(
            f"'executed_at' {executed_at.isoformat()} is in the future (now is "
            f"{now.isoformat()}); check the writer's clock and time zone"
        )
    file_name = _field(body, "file_name", str)
    vm = _field(body, "vm", str)
    return Completion.reported(
        job_name=job_name, file_name=file_name, status=status, executed_at=executed_at, vm=vm,
        run_id=_field(body, "run_id", str),
    )


def _field(body: dict[str, Any], name: str, kind: type, *, required: bool = False) -> Any:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidNotification(f"'{name}' is missing; it is required")
        return None
    if not isinstance(value, kind):
        raise InvalidNotification(
            f"'{name}' is {type(value).__name__} {value!r}; it must be a {kind.__name__}"
        )
    return value


def _timestamp(text: str) -> dt.datetime:
    try:
        stamp = dt.datetime.fromisoformat(text)
    except ValueError as error:
        raise InvalidNotification(
            f"'executed_at' {text!r} is not an ISO 8601 timestamp, e.g. 2026-12-03T08:45:00Z"
        ) from error
    if stamp.tzinfo is None:
        raise InvalidNotification(
            f"'executed_at' {text!r} has no time zone; add one, e.g. 'Z' or '+00:00'"
        )
    return stamp.astimezone(dt.UTC)


def notification_body(completion: Completion, *, run_id: str | None = None) -> dict[str, Any]:
    """The JSON object a notification file holds for `completion`."""
    body: dict[str, Any] = {
        "version": FORMAT_VERSION,
        "job_name": completion.job_name,
        "file_name": completion.file_name,
        "status": completion.status.value,
        "executed_at": completion.executed_at.astimezone(dt.UTC).isoformat(),
        "vm": completion.vm,
    }
    if run_id is not None:
        body["run_id"] = run_id
    return body
