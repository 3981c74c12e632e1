"""The `job_status` asset, its checks, and the job that ingests notification batches."""

import datetime as dt

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from jobops_dagster import settings
from jobops_dagster.defs.resources import JobStatusTableResource, NotificationFolderResource
from jobops_dagster.job_status.ingest import record_batch
from jobops_dagster.job_status.schema import Flag, Status

daily = dg.DailyPartitionsDefinition(
    start_date=settings.partitions_start_date(), timezone="UTC", end_offset=1
)


class NotificationBatchConfig(dg.Config):
    files: list[str] | None = Field(
        default=None,
        description=(
            "Notification file names to record. Leave unset to backfill the partition: its "
            "archived files are re-read and only the missing rows are added."
        ),
    )


@dg.asset(
    partitions_def=daily,
    kinds={"deltalake"},
    group_name="job_status",
)
def job_status(
    context: dg.AssetExecutionContext,
    config: NotificationBatchConfig,
    job_status_table: JobStatusTableResource,
    notification_folder: NotificationFolderResource,
) -> dg.MaterializeResult:
    """One row per job execution on this day, with whether AutoSys has accepted its status.

    Fed by notification files; each run records one day's batch in a single Delta commit
    and then archives the files. A backfill re-reads the day's archive and adds only rows
    that are missing.
    """
    report = record_batch(
        notification_folder.folder(),
        job_status_table.table(),
        execution_date=context.partition_key,
        files=config.files,
        now=dt.datetime.now(dt.UTC),
    )
    return dg.MaterializeResult(
        metadata={
            "rows_appended": report.rows_appended,
            "rows_already_present": report.rows_already_present,
            "table_version": report.table_version,
            "files_archived": report.files_archived,
            "files_rejected": report.files_rejected,
            "files_missing": report.files_missing,
        }
    )


@dg.asset_check(asset=job_status, blocking=False)
def event_ids_are_unique(job_status_table: JobStatusTableResource) -> dg.AssetCheckResult:
    """Every completion has exactly one row."""
    ids = job_status_table.table().read(["event_id"]).column("event_id")
    counts = pc.value_counts(ids)
    repeated = [
        item["values"].as_py() for item in counts if item["counts"].as_py() > 1
    ]
    return dg.AssetCheckResult(
        passed=not repeated,
        metadata={"rows": len(ids), "duplicated_event_ids": len(repeated),
                  "examples": ", ".join(repeated[:5])},
    )


@dg.asset_check(asset=job_status, blocking=False)
def status_and_flag_values_are_valid(
    job_status_table: JobStatusTableResource,
) -> dg.AssetCheckResult:
    """Status is `success` or `failure`, and the AutoSys flag is `NO` or `YES`."""
    rows = job_status_table.table().read(["status", "autosys_update_flag"])
    bad_status = pc.sum(pc.invert(pc.is_in(rows["status"], value_set=_values(Status)))).as_py()
    bad_flag = pc.sum(
        pc.invert(pc.is_in(rows["autosys_update_flag"], value_set=_values(Flag)))
    ).as_py()
    return dg.AssetCheckResult(
        passed=not bad_status and not bad_flag,
        metadata={"rows": rows.num_rows, "invalid_status": bad_status or 0,
                  "invalid_flag": bad_flag or 0},
    )


def _values(kind: type[Status] | type[Flag]) -> pa.Array:
    return pa.array([member.value for member in kind])


ingest_notifications = dg.define_asset_job(
    "ingest_notifications",
    selection=[job_status],
    description="Record one day's batch of notification files in job_status.",
)


defs = dg.Definitions(
    assets=[job_status],
    asset_checks=[event_ids_are_unique, status_and_flag_values_are_valid],
    jobs=[ingest_notifications],
)
