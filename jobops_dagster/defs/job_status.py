"""The `job_status` asset, its checks, and the sensors that feed it completions."""

import datetime as dt
from collections.abc import Mapping
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from jobops_dagster import settings
from jobops_dagster.defs.resources import JobStatusTableResource, NotificationFolderResource
from jobops_dagster.job_status.ingest import Batch, plan_batches, record_batch
from jobops_dagster.job_status.notifications import Rejection, notification_body
from jobops_dagster.job_status.schema import Completion, Flag, Status

BATCH_TAG = "jobops/notification_batch"
JOB_NAME_TAG = "jobops/job_name"
FILE_NAME_TAG = "jobops/file_name"
VM_TAG = "jobops/vm"
IN_FLIGHT = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
ENDED_WITHOUT_SUCCESS = [dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]

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


@dg.sensor(
    job=ingest_notifications,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def notification_files_sensor(
    context: dg.SensorEvaluationContext, notification_folder: NotificationFolderResource
) -> dg.SensorResult:
    """Turns new notification files into one ingestion run per execution date.

    Files a queued or running ingestion already holds are left to it. The run key carries
    how often the same batch ended without success, so a failed batch is asked for again
    instead of being dropped as a duplicate key.
    """
    folder = notification_folder.folder()
    now = dt.datetime.now(dt.UTC)
    in_flight = context.instance.get_runs(
        dg.RunsFilter(job_name=ingest_notifications.name, statuses=IN_FLIGHT)
    )
    held = {name for run in in_flight for name in _files_in(run.run_config)}
    plan = plan_batches(
        folder, now=now, in_flight=held, max_files=notification_folder.max_files_per_tick
    )
    requests = []
    waiting = 0
    for batch in plan.batches:
        if batch.execution_date < f"{daily.start:%Y-%m-%d}":
            for name in batch.files:
                folder.reject(Rejection(folder.root / name, _before_start(batch)))
            continue
        if not daily.has_partition_key(batch.execution_date):
            waiting += len(batch.files)
            continue
        requests.append(_run_request(context.instance, batch))
    context.log.info(
        "%d files planned into %d runs, %d rejected, %d held by running ingestions, "
        "%d waiting for their partition",
        sum(len(b.files) for b in plan.batches) - waiting,
        len(requests),
        len(plan.rejected),
        plan.skipped_in_flight,
        waiting,
    )
    events = []
    if plan.rejected:
        events.append(
            dg.AssetObservation(
                asset_key=job_status.key,
                metadata={
                    "files_rejected": len(plan.rejected),
                    "reasons": dg.MetadataValue.json(plan.rejected),
                },
            )
        )
    return dg.SensorResult(run_requests=requests, asset_events=events)


def _files_in(run_config: Mapping[str, Any]) -> list[str]:
    config = run_config.get("ops", {}).get(job_status.op.name, {}).get("config", {})
    return config.get("files") or []


def _before_start(batch: Batch) -> str:
    return (
        f"'executed_at' is on {batch.execution_date}, before the first job_status partition "
        f"({daily.start:%Y-%m-%d}); set JOBOPS_PARTITIONS_START earlier to keep it"
    )


def _run_request(instance: dg.DagsterInstance, batch: Batch) -> dg.RunRequest:
    failed = instance.get_runs_count(
        dg.RunsFilter(tags={BATCH_TAG: batch.fingerprint}, statuses=ENDED_WITHOUT_SUCCESS)
    )
    return dg.RunRequest(
        run_key=f"{batch.fingerprint}-attempt-{failed + 1}",
        partition_key=batch.execution_date,
        run_config={"ops": {job_status.op.name: {"config": {"files": list(batch.files)}}}},
        tags={BATCH_TAG: batch.fingerprint},
    )


def _task_notification_sensor(
    status: Status, run_status: dg.DagsterRunStatus
) -> dg.RunStatusSensorDefinition:
    @dg.run_status_sensor(
        name=f"task_{status}_notification_sensor",
        run_status=run_status,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Writes a `{status}` notification for each {run_status.value.lower()} run of a "
            "monitored task job (JOBOPS_MONITORED_JOBS)."
        ),
    )
    def notify(
        context: dg.RunStatusSensorContext, notification_folder: NotificationFolderResource
    ) -> dg.SkipReason | None:
        run = context.dagster_run
        if run.job_name not in settings.monitored_jobs():
            return dg.SkipReason(f"{run.job_name} is not in JOBOPS_MONITORED_JOBS")
        record = context.instance.get_run_record_by_id(run.run_id)
        # The stored end time, not now: a tick seen twice must name the same completion.
        ended = record.end_time if record and record.end_time else None
        completion = Completion.of_run(
            run_id=run.run_id,
            job_name=run.tags.get(JOB_NAME_TAG, run.job_name),
            file_name=run.tags.get(FILE_NAME_TAG),
            status=status,
            ended_at=dt.datetime.fromtimestamp(ended, dt.UTC) if ended else dt.datetime.now(dt.UTC),
            vm=run.tags.get(VM_TAG),
        )
        body = notification_body(completion, run_id=run.run_id)
        path = notification_folder.folder().write(f"run-{run.run_id}.json", body)
        context.log.info("Wrote %s for %s run %s", path.name, completion.job_name, run.run_id)
        return None

    return notify


task_success_notification_sensor = _task_notification_sensor(
    Status.SUCCESS, dg.DagsterRunStatus.SUCCESS
)
task_failure_notification_sensor = _task_notification_sensor(
    Status.FAILURE, dg.DagsterRunStatus.FAILURE
)

defs = dg.Definitions(
    assets=[job_status],
    asset_checks=[event_ids_are_unique, status_and_flag_values_are_valid],
    jobs=[ingest_notifications],
    sensors=[
        notification_files_sensor,
        task_success_notification_sensor,
        task_failure_notification_sensor,
    ],
)
