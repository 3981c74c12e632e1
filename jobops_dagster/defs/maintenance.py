"""Daily upkeep of the `job_status` table."""

import dagster as dg
from pydantic import Field

from jobops_dagster import settings
from jobops_dagster.defs.resources import JobStatusTableResource
from jobops_dagster.job_status.maintenance import maintain


class MaintenanceConfig(dg.Config):
    retention_hours: int = Field(
        default=168,
        ge=1,
        description=(
            "Vacuum deletes unreferenced files older than this. At least 1: a sensor's merge "
            "that is still reading a file compaction just replaced must find it there."
        ),
    )


@dg.op
def compact_vacuum_checkpoint(
    context: dg.OpExecutionContext,
    config: MaintenanceConfig,
    job_status_table: JobStatusTableResource,
) -> dg.Output[None]:
    """Compact small files, vacuum old ones and write a checkpoint of job_status."""
    report = maintain(job_status_table.table(), retention_hours=config.retention_hours)
    context.log.info("Maintenance finished at table version %d", report.version)
    return dg.Output(
        None,
        metadata={
            "files_removed_by_compaction": report.files_removed_by_compaction,
            "files_added_by_compaction": report.files_added_by_compaction,
            "files_vacuumed": report.files_vacuumed,
            "table_version": report.version,
        },
    )


@dg.job(description="Compact, vacuum and checkpoint the job_status Delta table.")
def job_status_maintenance() -> None:
    compact_vacuum_checkpoint()


job_status_maintenance_schedule = dg.ScheduleDefinition(
    job=job_status_maintenance,
    cron_schedule=settings.maintenance_cron(),
    execution_timezone=settings.schedule_timezone(),
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

defs = dg.Definitions(jobs=[job_status_maintenance], schedules=[job_status_maintenance_schedule])
