"""The code location loads as workspace.yaml loads it, and every definition resolves."""

import dagster as dg

from jobops_dagster.definitions import defs


def test_definitions_load_and_every_definition_resolves() -> None:
    dg.Definitions.validate_loadable(defs)
    repository = defs.get_repository_def()

    jobs = {job.name for job in repository.get_all_jobs()}
    sensors = {sensor.name for sensor in repository.sensor_defs}
    schedules = {schedule.name for schedule in repository.schedule_defs}
    assets = {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()}
    checks = {key.name for key in repository.asset_graph.asset_check_keys}

    assert {"ingest_notifications", "job_status_maintenance"} <= jobs
    assert {
        "notification_files_sensor",
        "task_success_notification_sensor",
        "task_failure_notification_sensor",
    } <= sensors
    assert "job_status_maintenance_schedule" in schedules
    assert "job_status" in assets
    assert {"event_ids_are_unique", "status_and_flag_values_are_valid"} <= checks
    for name in jobs:
        assert repository.get_job(name).name == name
    for sensor in repository.sensor_defs:
        assert all(target.job_name in jobs for target in sensor.targets)
    for schedule in repository.schedule_defs:
        assert schedule.job_name in jobs
