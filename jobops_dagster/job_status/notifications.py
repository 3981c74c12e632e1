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

from jobops_dagster.job_status.notification_format import (
    InvalidNotification,
    parse_notification,
)
from jobops_dagster.job_status.schema import Completion

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 1024 * 1024
ARCHIVE = "archive"
REJECTED = "rejected"


@dataclasses.dataclass(frozen=True)
class Notification:
    """A valid notification file and the completion it reports."""

    path: Path
    completion: Completion


@dataclasses.dataclass(frozen=True)
class Rejection:
    path: Path
    reason: str


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
