"""Sensors that feed `job_status`: new notification files, and finished task runs."""

import datetime as dt
from collections.abc import Mapping
from typing import Any

import dagster as dg

from jobops_dagster import settings
from jobops_dagster.defs.job_status import daily, ingest_notifications, job_status
from jobops_dagster.defs.resources import NotificationFolderResource
from jobops_dagster.defs.tags import TAG_FILE_NAME, TAG_JOB_NAME, TAG_NOTIFICATION_BATCH, TAG_VM
from jobops_dagster.job_status.ingest import Batch, plan_batches
from jobops_dagster.job_status.notification_format import notification_body
from jobops_dagster.job_status.notifications import Rejection
from jobops_dagster.job_status.schema import Completion, Status

IN_FLIGHT = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
ENDED_WITHOUT_SUCCESS = [dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


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
        dg.RunsFilter(
            tags={TAG_NOTIFICATION_BATCH: batch.fingerprint}, statuses=ENDED_WITHOUT_SUCCESS
        )
    )
    return dg.RunRequest(
        run_key=f"{batch.fingerprint}-attempt-{failed + 1}",
        partition_key=batch.execution_date,
        run_config={"ops": {job_status.op.name: {"config": {"files": list(batch.files)}}}},
        tags={TAG_NOTIFICATION_BATCH: batch.fingerprint},
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
        ended_at = dt.datetime.fromtimestamp(ended, dt.UTC) if ended else dt.datetime.now(dt.UTC)
        completion = Completion.reported(
            run_id=run.run_id,
            job_name=run.tags.get(TAG_JOB_NAME, run.job_name),
            file_name=run.tags.get(TAG_FILE_NAME),
            status=status,
            executed_at=ended_at,
            vm=run.tags.get(TAG_VM),
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
    sensors=[
        notification_files_sensor,
        task_success_notification_sensor,
        task_failure_notification_sensor,
    ],
)
