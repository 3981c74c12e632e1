"""The notification folder: JSON files that report one job completion each.

Writers write a hidden temporary file and rename it into place, so a reader never sees half
a file. Readers also wait until a file is `min_age` old. A file leaves the folder only after
its row is committed: to `archive/YYYY-MM-DD/` (by execution date) when it was recorded, or
to `rejected/` with a `<name>.reason.txt` beside it when it cannot be.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from jobops_dagster.job_status.schema import (
    Completion,
    Source,
    Status,
    event_id_for,
    validate_job_name,
)

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MAX_FILE_BYTES = 1024 * 1024
ARCHIVE = "archive"
REJECTED = "rejected"


class InvalidNotification(ValueError):
    """A notification file that cannot become a `job_status` row; the message says why."""


@dataclasses.dataclass(frozen=True)
class Notification:
    """A valid notification file and the completion it reports."""

    path: Path
    completion: Completion


@dataclasses.dataclass(frozen=True)
class Rejection:
    path: Path
    reason: str


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
    run_id = _field(body, "run_id", str)
    return Completion(
        event_id=event_id_for(
            source=Source.DAGSTER_RUN if run_id else Source.NOTIFICATION_FILE,
            job_name=job_name,
            file_name=file_name,
            status=status,
            executed_at=executed_at,
            run_id=run_id,
        ),
        job_name=job_name,
        file_name=file_name,
        status=status,
        executed_at=executed_at,
        vm=_field(body, "vm", str),
        source=Source.DAGSTER_RUN if run_id else Source.NOTIFICATION_FILE,
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


class NotificationFolder:
    """The folder completions are dropped into, with its archive and rejected subfolders."""

    def __init__(self, root: Path | str, *, min_age: dt.timedelta = dt.timedelta(seconds=2)):
        self.root = Path(root)
        self.min_age = min_age

    def write(self, name: str, body: dict[str, Any]) -> Path:
        """Write `body` as `<root>/<name>` atomically: a temporary file, then a rename."""
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.root / name
        fd, temp = tempfile.mkstemp(dir=self.root, prefix=f".{name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(body, out, indent=2)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, final)
        return final

    def ready(self, *, now: dt.datetime, limit: int | None = None) -> list[Path]:
        """Entries named `*.json` old enough to read, oldest first; hidden files are skipped."""
        if not self.root.is_dir():
            return []
        cutoff = (now - self.min_age).timestamp()
        entries: list[tuple[float, str, Path]] = []
        with os.scandir(self.root) as scan:
            for entry in scan:
                if entry.name.startswith(".") or not entry.name.endswith(".json"):
                    continue
                mtime = entry.stat(follow_symlinks=False).st_mtime
                if mtime <= cutoff:
                    entries.append((mtime, entry.name, Path(entry.path)))
        entries.sort()
        return [path for _, _, path in entries[:limit]]

    def archived(self, execution_date: str) -> list[Path]:
        folder = self.root / ARCHIVE / execution_date
        return sorted(folder.glob("*.json")) if folder.is_dir() else []

    def read(
        self, paths: list[Path], *, now: dt.datetime
    ) -> tuple[list[Notification], list[Rejection]]:
        """Parse each file; the ones that cannot be parsed come back with the reason."""
        good: list[Notification] = []
        bad: list[Rejection] = []
        for path in paths:
            try:
                completion = parse_notification(_read_regular_file(path), now=now)
            except InvalidNotification as error:
                bad.append(Rejection(path, str(error)))
            else:
                good.append(Notification(path, completion))
        return good, bad

    def archive(self, notification: Notification) -> Path | None:
        """Move a recorded notification into the archive; None when it is there already."""
        if notification.path.parent != self.root:
            return None
        folder = self.root / ARCHIVE / notification.completion.execution_date
        return _move(notification.path, folder)

    def reject(self, rejection: Rejection) -> Path | None:
        """Move a bad entry to `rejected/` and write its reason beside it."""
        target = _move(rejection.path, self.root / REJECTED)
        if target is not None:
            reason = target.with_name(target.name + ".reason.txt")
            reason.write_text(f"{rejection.path.name}: {rejection.reason}\n", encoding="utf-8")
            log.warning("Rejected notification %s: %s", rejection.path.name, rejection.reason)
        return target


def _read_regular_file(path: Path) -> bytes:
    try:
        info = path.lstat()
    except FileNotFoundError as error:
        raise InvalidNotification("the file vanished before it could be read") from error
    if path.is_symlink():
        raise InvalidNotification(
            "the entry is a symbolic link; write the notification itself into the folder"
        )
    if not path.is_file():
        raise InvalidNotification("the entry is not a regular file (a directory?)")
    if info.st_size > MAX_FILE_BYTES:
        raise InvalidNotification(
            f"the file is {info.st_size} bytes, over the {MAX_FILE_BYTES}-byte limit; "
            "a notification reports one completion"
        )
    with path.open("rb") as handle:
        return handle.read(MAX_FILE_BYTES + 1)


def _move(source: Path, folder: Path) -> Path | None:
    """Move `source` into `folder` under a free name; None if `source` is already gone.

    A file whose twin is already there (a notification written twice) is dropped instead.
    """
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    if source.is_file() and not source.is_symlink() and _same_bytes(source, target):
        source.unlink(missing_ok=True)
        return target
    counter = 1
    while target.exists() or target.is_symlink():
        target = folder / f"{source.stem}.{counter}{source.suffix}"
        counter += 1
    try:
        shutil.move(source, target)
    except FileNotFoundError:
        return None
    return target


def _same_bytes(one: Path, other: Path) -> bool:
    if not other.is_file() or other.is_symlink():
        return False
    return one.stat().st_size == other.stat().st_size and one.read_bytes() == other.read_bytes()
