"""From notification files to `job_status` rows: plan batches, then record them.

Planning runs in the sensor: it sorts ready files into one batch per execution date and
rejects the ones that cannot be read. Recording runs in the ingestion run: one commit per
batch, then the files move to the archive. The order matters: a file leaves the folder only
after its row is committed, so a crash in between costs a re-read, never a row.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
from collections import defaultdict

from jobops_dagster.job_status.notifications import Notification, NotificationFolder
from jobops_dagster.job_status.table import JobStatusTable

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Batch:
    """Files that one ingestion run records: all on one execution date."""

    execution_date: str
    files: tuple[str, ...]

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256("\n".join(sorted(self.files)).encode())
        return f"{self.execution_date}-{digest.hexdigest()[:16]}"


@dataclasses.dataclass(frozen=True)
class Plan:
    batches: list[Batch]
    rejected: dict[str, str]
    skipped_in_flight: int


@dataclasses.dataclass(frozen=True)
class IngestReport:
    """What one ingestion run did, for its logs and materialization metadata."""

    rows_appended: int
    rows_already_present: int
    table_version: int
    files_archived: int
    files_rejected: int
    files_missing: int


def plan_batches(
    folder: NotificationFolder,
    *,
    now: dt.datetime,
    in_flight: set[str],
    max_files: int,
) -> Plan:
    """Group ready files by execution date, skipping files a queued run already holds.

    Bad files are moved to `rejected/` here, so one bad file never holds up a batch.
    """
    waiting = folder.ready(now=now)
    ready = [path for path in waiting if path.name not in in_flight]
    skipped = len(waiting) - len(ready)
    good, bad = folder.read(ready[:max_files], now=now)
    rejected = {}
    for rejection in bad:
        folder.reject(rejection)
        rejected[rejection.path.name] = rejection.reason
    by_date: dict[str, list[str]] = defaultdict(list)
    for notification in good:
        by_date[notification.completion.execution_date].append(notification.path.name)
    batches = [Batch(date, tuple(sorted(names))) for date, names in sorted(by_date.items())]
    return Plan(batches=batches, rejected=rejected, skipped_in_flight=skipped)


def record_batch(
    folder: NotificationFolder,
    table: JobStatusTable,
    *,
    execution_date: str,
    files: list[str] | None,
    now: dt.datetime,
) -> IngestReport:
    """Record one execution date's notifications in one commit, then archive them.

    With `files`, those files in the folder are recorded. Without, this is a backfill: every
    archived file of the date, plus any file still waiting in the folder for that date, is
    re-read and only the rows missing from the table are added.
    """
    if files is None:
        paths = folder.archived(execution_date) + folder.ready(now=now)
    else:
        paths = [folder.root / name for name in files]
    present = [path for path in paths if path.exists() or path.is_symlink()]
    good, bad = folder.read(present, now=now)
    # A backfill reads every waiting file; those of other dates belong to other runs.
    mine = [n for n in good if n.completion.execution_date == execution_date]
    if files is not None and len(mine) != len(good):
        stray = sorted(n.path.name for n in good if n not in mine)
        log.warning("Files not dated %s left for their own runs: %s", execution_date, stray)
    for rejection in bad:
        # An archived file stays where it is: the archive is the record of what was sent.
        if rejection.path.parent == folder.root:
            folder.reject(rejection)
        else:
            log.warning("Archived %s cannot be read: %s", rejection.path, rejection.reason)
    result = table.insert_missing([n.completion for n in mine], now=now)
    archived = _archive_all(folder, mine)
    report = IngestReport(
        rows_appended=result.rows,
        rows_already_present=len({n.completion.event_id for n in mine}) - result.rows,
        table_version=result.version,
        files_archived=archived,
        files_rejected=len(bad),
        files_missing=len(paths) - len(present),
    )
    log.info(
        "job_status %s: %d rows appended, %d already recorded, version %d, "
        "%d files archived, %d rejected",
        execution_date,
        report.rows_appended,
        report.rows_already_present,
        report.table_version,
        report.files_archived,
        report.files_rejected,
    )
    return report


def _archive_all(folder: NotificationFolder, notifications: list[Notification]) -> int:
    return sum(folder.archive(n) is not None for n in notifications)
