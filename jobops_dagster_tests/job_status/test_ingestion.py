"""Completions reaching job_status through the Dagster instance: the notification sensor
evaluated with build_sensor_context, ingestion runs through materialize, and the run-status
sensors that turn finished task runs into notifications. Exactly one row per completion,
whatever is repeated."""

import datetime as dt
from typing import Any

import dagster as dg
import pytest
from dagster_deltalake import LocalConfig
from deltalake import DeltaTable

from jobops_dagster.defs.job_status import ingest_notifications, job_status
from jobops_dagster.defs.job_status_sensors import (
    notification_files_sensor,
    task_failure_notification_sensor,
    task_success_notification_sensor,
)
from jobops_dagster.defs.resources import JobStatusTableResource
from jobops_dagster.defs.tags import TAG_FILE_NAME, TAG_JOB_NAME, TAG_NOTIFICATION_BATCH, TAG_VM
from jobops_dagster.job_status.notifications import NotificationFolder
from jobops_dagster.job_status.schema import Flag
from jobops_dagster.job_status.table import JobStatusTable
from jobops_dagster_tests.job_status.support import (
    NOW,
    TODAY,
    YESTERDAY,
    drop,
    drop_raw,
    flags_by_event,
)


def tick(instance: dg.DagsterInstance, resources: dict[str, Any]) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, resources=resources)
    result = notification_files_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def run(
    request: dg.RunRequest, instance: dg.DagsterInstance, resources: dict[str, Any]
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [job_status],
        partition_key=request.partition_key,
        run_config=request.run_config,
        tags=request.tags,
        instance=instance,
        resources=resources,
        raise_on_error=False,
    )


def metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    [event] = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_sensor_mixed_batch_plans_one_run_per_date_and_rejects_bad_files(
    instance: dg.DagsterInstance, resources: dict[str, Any], folder: NotificationFolder,
    table: JobStatusTable,
) -> None:
    drop(folder, "a.json")
    drop(folder, "b.json", status="failure")
    drop(folder, "c.json", executed_at=(NOW - dt.timedelta(days=1)).isoformat())
    drop_raw(folder, "broken.json", b'{"version": 1,')
    drop_raw(folder, "empty.json", b"")
    drop(folder, "naive.json", executed_at="2026-12-03T08:00:00")
    (folder.root / "x.json").mkdir()

    result = tick(instance, resources)

    assert sorted(r.partition_key for r in result.run_requests) == [YESTERDAY, TODAY]
    rejected = folder.root / "rejected"
    assert sorted(p.name for p in rejected.iterdir() if not p.name.endswith(".txt")) == [
        "broken.json", "empty.json", "naive.json", "x.json",
    ]
    assert "no time zone" in (rejected / "naive.json.reason.txt").read_text(encoding="utf-8")
    [observation] = result.asset_events
    assert observation.metadata["files_rejected"].value == 4

    outcomes = [run(request, instance, resources) for request in result.run_requests]

    assert all(o.success for o in outcomes)
    assert sorted(metadata(o)["rows_appended"] for o in outcomes) == [1, 2]
    assert table.read(["event_id"]).num_rows == 3
    assert sorted(p.name for p in folder.archived(TODAY)) == ["a.json", "b.json"]
    assert [p.name for p in folder.archived(YESTERDAY)] == ["c.json"]
    assert not list(folder.root.glob("*.json"))


def test_sensor_tick_evaluated_twice_leaves_one_row_per_completion(
    instance: dg.DagsterInstance, resources: dict[str, Any], folder: NotificationFolder,
    table: JobStatusTable,
) -> None:
    for n in range(5):
        drop(folder, f"n{n}.json", executed_at=(NOW - dt.timedelta(minutes=n)).isoformat())
    first = tick(instance, resources)
    [request] = first.run_requests
    job = dg.Definitions(
        assets=[job_status], jobs=[ingest_notifications], resources=resources
    ).resolve_job_def(ingest_notifications.name)
    queued = instance.create_run_for_job(
        job, run_config=request.run_config, tags=request.tags,
        status=dg.DagsterRunStatus.NOT_STARTED,
    )

    # The cursor was never stored, so the same files are seen again while the run waits.
    assert tick(instance, resources).run_requests == []

    instance.report_run_canceled(queued)
    again = tick(instance, resources)
    [retry] = again.run_requests
    assert retry.run_key != request.run_key
    assert run(retry, instance, resources).success
    assert run(retry, instance, resources).success  # a re-run of the same partition
    assert table.read(["event_id"]).num_rows == 5
    assert tick(instance, resources).run_requests == []


def test_failed_ingestion_run_strands_no_files(
    instance: dg.DagsterInstance, resources: dict[str, Any], folder: NotificationFolder,
    table: JobStatusTable, tmp_path: Any,
) -> None:
    drop(folder, "a.json")
    [request] = tick(instance, resources).run_requests
    blocker = tmp_path / "not-a-table"
    blocker.write_text("a file where the table should be", encoding="utf-8")
    broken = dict(resources, job_status_table=JobStatusTableResource(
        url=str(blocker / "job_status"), storage_options=LocalConfig()
    ))

    assert not run(request, instance, broken).success
    assert (folder.root / "a.json").exists()

    [retry] = tick(instance, resources).run_requests
    assert retry.run_key != request.run_key
    assert retry.tags[TAG_NOTIFICATION_BATCH] == request.tags[TAG_NOTIFICATION_BATCH]
    assert run(retry, instance, resources).success
    assert table.read(["event_id"]).num_rows == 1


def test_backfill_readds_only_missing_rows_and_keeps_yes(
    instance: dg.DagsterInstance, resources: dict[str, Any], folder: NotificationFolder,
    table: JobStatusTable, table_url: str,
) -> None:
    for n in range(3):
        drop(folder, f"n{n}.json", executed_at=(NOW - dt.timedelta(minutes=n)).isoformat())
    for request in tick(instance, resources).run_requests:
        assert run(request, instance, resources).success
    ids = sorted(table.read(["event_id"])["event_id"].to_pylist())
    DeltaTable(table_url).update(
        predicate=f"event_id = '{ids[0]}'", updates={"autosys_update_flag": "'YES'"}
    )
    DeltaTable(table_url).delete(predicate=f"event_id = '{ids[1]}'")

    backfill = dg.materialize(
        [job_status], partition_key=TODAY, instance=instance, resources=resources
    )

    assert metadata(backfill)["rows_appended"] == 1
    flags = flags_by_event(table)
    assert sorted(flags) == ids
    assert flags[ids[0]] == Flag.YES


def _task_job(*, fail: bool) -> dg.JobDefinition:
    @dg.op
    def task() -> None:
        if fail:
            raise RuntimeError("the batch step exited with code 3")

    @dg.job(name="run_task", tags={TAG_JOB_NAME: "PAYROLL.load", TAG_FILE_NAME: "p.csv"})
    def run_task() -> None:
        task()

    return run_task


@pytest.mark.parametrize(
    ("fail", "sensor", "status"),
    [
        (False, task_success_notification_sensor, "success"),
        (True, task_failure_notification_sensor, "failure"),
    ],
)
def test_run_status_sensor_turns_task_run_into_one_row(
    instance: dg.DagsterInstance, resources: dict[str, Any], folder: NotificationFolder,
    table: JobStatusTable, fail: bool, sensor: Any, status: str,
) -> None:
    result = _task_job(fail=fail).execute_in_process(
        instance=instance, raise_on_error=False, tags={TAG_VM: "vm3"}
    )
    run_record = instance.get_run_by_id(result.run_id)
    assert run_record is not None
    event = result.get_run_success_event() if not fail else result.get_run_failure_event()

    for _ in range(2):  # a sensor tick seen twice writes the same file again
        context = dg.build_run_status_sensor_context(
            sensor_name=sensor.name, dagster_event=event, dagster_instance=instance,
            dagster_run=run_record, resources=resources,
        )
        sensor(context)
        for request in tick(instance, resources).run_requests:
            assert run(request, instance, resources).success

    rows = table.read(["job_name", "file_name", "status", "vm", "source"]).to_pylist()
    assert rows == [{
        "job_name": "PAYROLL.load", "file_name": "p.csv", "status": status, "vm": "vm3",
        "source": "dagster_run",
    }]
    assert len(folder.archived(TODAY)) == 1


def test_backfill_leaves_unreadable_archived_file_in_place(
    instance: dg.DagsterInstance, resources: dict[str, Any], folder: NotificationFolder,
) -> None:
    drop(folder, "good.json")
    for request in tick(instance, resources).run_requests:
        assert run(request, instance, resources).success
    damaged = folder.root / "archive" / TODAY / "damaged.json"
    damaged.write_bytes(b"{")

    backfill = dg.materialize(
        [job_status], partition_key=TODAY, instance=instance, resources=resources
    )

    assert metadata(backfill)["files_rejected"] == 1
    assert metadata(backfill)["rows_appended"] == 0
    assert damaged.exists()
    assert not (folder.root / "rejected").exists()
