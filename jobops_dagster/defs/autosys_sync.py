"""The `autosys_sync` asset, its checks, its job and the 15-minute schedule that drives it.

Resources are bound centrally in `definitions.py`: `autosys` (an `AutoSysResource`, see
`autosys_resources`) and `job_status_table`.
"""

import datetime as dt

import dagster as dg
from pydantic import Field

from jobops_dagster import settings
from jobops_dagster.autosys.client import AutoSysConfigurationError
from jobops_dagster.autosys.health import (
    HEALTH_COLUMNS,
    permanent_failures,
    staleness,
)
from jobops_dagster.autosys.pending import pending_columns
from jobops_dagster.autosys.sync import run_sync
from jobops_dagster.defs.autosys_resources import AutoSysResource
from jobops_dagster.defs.resources import JobStatusTableResource

# Pool whose limit (1) keeps two syncs from sending the same rows at once; see docs/autosys.md.
AUTOSYS_SYNC_POOL = "autosys_sync"


@dg.asset(
    deps=[dg.AssetDep("job_status", partition_mapping=dg.AllPartitionMapping())],
    pool=AUTOSYS_SYNC_POOL,
    kinds={"deltalake"},
    group_name="autosys",
)
def autosys_sync(
    context: dg.AssetExecutionContext,
    autosys: AutoSysResource,
    job_status_table: JobStatusTableResource,
) -> dg.MaterializeResult:
    """Job statuses delivered to AutoSys: each `NO` row of job_status that AutoSys accepted
    turns `YES`.

    Runs every 15 minutes. Each run sends the due `NO` rows (per job in execution order,
    different jobs concurrently) and records every outcome in one Delta commit. Rows that
    failed wait with exponential backoff and are tried again on a later run.
    """
    try:
        with autosys.client() as client:
            report = run_sync(
                table=job_status_table.table(),
                client=client,
                settings=autosys.sync_settings(),
                logger=context.log,
            )
    except AutoSysConfigurationError as error:
        raise dg.Failure(
            description=f"AutoSys sync changed no row: {error}",
            allow_retries=False,
        ) from error
    metadata: dict[str, float | int] = {
        "sent": report.sent,
        "accepted": report.accepted,
        "failed_transient": report.failed_transient,
        "failed_permanent": report.failed_permanent,
        "waiting_behind_failure": report.waiting,
        "not_due": report.not_due,
        "deferred_to_next_run": report.deferred,
        "still_pending": report.still_pending,
        "oldest_pending_age_minutes": round(report.oldest_pending_age_minutes, 1),
        "duration_s": round(report.duration_s, 2),
    }
    if report.table_version is not None:
        metadata["table_version"] = report.table_version
    return dg.MaterializeResult(metadata=metadata)


class StaleUpdatesConfig(dg.Config):
    warn_after_minutes: float = Field(
        default=60.0, description="Warn once the oldest NO row has waited this long."
    )
    error_after_minutes: float = Field(
        default=240.0, description="Fail with ERROR severity beyond this wait."
    )
    examples: int = Field(default=5, description="How many of the oldest jobs to list.")


@dg.asset_check(asset=autosys_sync, blocking=False)
def no_stale_pending_updates(
    config: StaleUpdatesConfig, job_status_table: JobStatusTableResource
) -> dg.AssetCheckResult:
    """No status has waited too long for AutoSys: WARN past one age, ERROR past another."""
    pending = pending_columns(job_status_table.table(), HEALTH_COLUMNS, batch_rows=50_000)
    graded = staleness(
        pending,
        now=dt.datetime.now(dt.UTC),
        warn_after=dt.timedelta(minutes=config.warn_after_minutes),
        error_after=dt.timedelta(minutes=config.error_after_minutes),
        examples=config.examples,
    )
    return dg.AssetCheckResult(
        passed=graded.severity == "ok",
        severity=dg.AssetCheckSeverity.ERROR
        if graded.severity == "error"
        else dg.AssetCheckSeverity.WARN,
        metadata={
            "pending_rows": graded.pending,
            "oldest_pending_age_minutes": graded.oldest_age_minutes,
            "oldest_jobs": dg.MetadataValue.md(
                "\n".join(f"- `{job}`: {age} min" for job, age in graded.oldest_jobs) or "none"
            ),
        },
    )


class PermanentFailuresConfig(dg.Config):
    min_attempts: int = Field(
        default=2, description="Flag rows refused permanently on at least this many tries."
    )


@dg.asset_check(asset=autosys_sync, blocking=False)
def no_permanently_failing_updates(
    config: PermanentFailuresConfig, job_status_table: JobStatusTableResource
) -> dg.AssetCheckResult:
    """No status keeps being refused by AutoSys, e.g. because its job is not defined there."""
    pending = pending_columns(job_status_table.table(), HEALTH_COLUMNS, batch_rows=50_000)
    failing = permanent_failures(pending, min_attempts=config.min_attempts)
    return dg.AssetCheckResult(
        passed=failing.rows == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "permanently_failing_rows": failing.rows,
            "jobs": dg.MetadataValue.md(
                "\n".join(f"- `{job}`" for job in failing.jobs) or "none"
            ),
        },
    )


autosys_sync_job = dg.define_asset_job(
    "autosys_sync_job",
    selection=dg.AssetSelection.assets(autosys_sync),
    description="Send pending job statuses to AutoSys and flag the accepted rows YES.",
)

autosys_sync_every_15_minutes = dg.ScheduleDefinition(
    name="autosys_sync_every_15_minutes",
    job=autosys_sync_job,
    cron_schedule="*/15 * * * *",
    execution_timezone=settings.schedule_timezone(),
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


def limit_autosys_sync_pool(instance: dg.DagsterInstance) -> None:
    """Let one sync run at a time on `instance`.

    Same as `dagster instance concurrency set autosys_sync 1`. Setting it explicitly matters:
    a pool that only gets its limit from `pools: default_limit` is initialised lazily on first
    use, and two runs that claim at that very moment can both get a slot.
    """
    instance.event_log_storage.set_concurrency_slots(AUTOSYS_SYNC_POOL, 1)


defs = dg.Definitions(
    assets=[autosys_sync],
    asset_checks=[no_stale_pending_updates, no_permanently_failing_updates],
    jobs=[autosys_sync_job],
    schedules=[autosys_sync_every_15_minutes],
)
