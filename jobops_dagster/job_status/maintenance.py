"""Routine upkeep of the `job_status` table: compaction, vacuum and a checkpoint.

Sensors append small commits all day; compaction rewrites them into fewer files, vacuum
deletes files no version within the retention period still needs, and a checkpoint keeps
the log short to replay. Each step reloads and runs again if a sensor's commit lands first.
"""

from __future__ import annotations

import dataclasses
import logging

from deltalake import DeltaTable

from jobops_dagster.job_status.table import JobStatusTable

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class MaintenanceReport:
    files_removed_by_compaction: int
    files_added_by_compaction: int
    files_vacuumed: int
    version: int


def maintain(table: JobStatusTable, *, retention_hours: int) -> MaintenanceReport:
    """Compact, vacuum files older than `retention_hours`, then checkpoint."""

    def compact(delta: DeltaTable) -> dict[str, int]:
        metrics = delta.optimize.compact()
        return {
            "removed": int(metrics.get("numFilesRemoved", 0)),
            "added": int(metrics.get("numFilesAdded", 0)),
        }

    def vacuum(delta: DeltaTable) -> list[str]:
        return delta.vacuum(
            retention_hours=retention_hours,
            dry_run=False,
            # A retention shorter than the table's default is the operator's call, not ours.
            enforce_retention_duration=False,
        )

    def checkpoint(delta: DeltaTable) -> int:
        delta.create_checkpoint()
        delta.cleanup_metadata()
        return delta.version()

    compacted = table.with_reload(compact)
    vacuumed = table.with_reload(vacuum)
    version = table.with_reload(checkpoint)
    report = MaintenanceReport(
        files_removed_by_compaction=compacted["removed"],
        files_added_by_compaction=compacted["added"],
        files_vacuumed=len(vacuumed),
        version=version,
    )
    log.info(
        "job_status maintenance: compacted %d files into %d, vacuumed %d, checkpoint at v%d",
        report.files_removed_by_compaction,
        report.files_added_by_compaction,
        report.files_vacuumed,
        report.version,
    )
    return report
