"""The Dagster wiring of the AutoSys sync, materialized for real: the `autosys_sync` asset over
a Delta table and the emulator, its checks, its job and schedule, and the pool that keeps two
syncs from overlapping."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_deltalake import LocalConfig

from jobops_dagster.autosys import emulator as emulator_module
from jobops_dagster.autosys.emulator import AutoSysEmulator, Faults
from jobops_dagster.defs import autosys_sync as wiring
from jobops_dagster.defs.autosys_resources import AutoSysResource, autosys_from_env
from jobops_dagster.defs.resources import JobStatusTableResource
from jobops_dagster.job_status.table import JobStatusTable
from jobops_dagster_tests.autosys.conftest import StartEmulator
from jobops_dagster_tests.autosys.support import PASSWORD, USERNAME, backlog, flags, insert

CHECKS = [wiring.no_stale_pending_updates, wiring.no_permanently_failing_updates]


@pytest.fixture(autouse=True)
def password_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOSYS_PASSWORD", PASSWORD)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


def resources_for(emulator: AutoSysEmulator, table_url: str, **autosys: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {"base_url": emulator.url, "username": USERNAME,
                                "password": dg.EnvVar("AUTOSYS_PASSWORD"),
                                "read_timeout_s": 1.0, **autosys}
    return {
        "autosys": AutoSysResource(**settings),
        "job_status_table": JobStatusTableResource(
            url=table_url, storage_options=LocalConfig()
        ),
    }


def materialize(resources: dict[str, Any], instance: dg.DagsterInstance,
                **kwargs: Any) -> dg.ExecuteInProcessResult:
    return dg.materialize([wiring.autosys_sync, *CHECKS], resources=resources,
                          instance=instance, **kwargs)


def checks_by_name(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {check.check_name: check for check in result.get_asset_check_evaluations()}


def test_autosys_sync_materializes_with_numeric_metadata(
    table: JobStatusTable, table_url: str, emulator: AutoSysEmulator,
    instance: dg.DagsterInstance,
) -> None:
    insert(table, backlog(jobs=3, per_job=3))

    result = materialize(resources_for(emulator, table_url), instance)

    assert result.success
    [materialization] = result.asset_materializations_for_node("autosys_sync")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata["sent"] == metadata["accepted"] == 9
    assert (metadata["failed_transient"], metadata["failed_permanent"]) == (0, 0)
    assert metadata["still_pending"] == 0
    assert isinstance(metadata["oldest_pending_age_minutes"], float)
    assert isinstance(metadata["table_version"], int)
    assert flags(table) == {"YES": 9}
    assert all(check.passed for check in checks_by_name(result).values())


def test_autosys_sync_wrong_credentials_fails_run_and_changes_nothing(
    table: JobStatusTable, table_url: str, start_emulator: StartEmulator,
    instance: dg.DagsterInstance,
) -> None:
    emulator = start_emulator(password="the-real-one")
    insert(table, backlog(jobs=2, per_job=2))

    result = materialize(resources_for(emulator, table_url), instance, raise_on_error=False)

    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    message = failure.step_failure_data.error.message  # type: ignore[union-attr]
    assert "changed no row" in message and "AUTOSYS_PASSWORD" in message
    assert flags(table) == {"NO": 4}


@pytest.mark.parametrize(
    ("logged_minutes_ago", "passed", "severity"),
    [(10, True, None), (90, False, dg.AssetCheckSeverity.WARN),
     (300, False, dg.AssetCheckSeverity.ERROR)],
)
def test_no_stale_pending_updates_grades_oldest_pending_row(
    table: JobStatusTable, table_url: str, start_emulator: StartEmulator,
    instance: dg.DagsterInstance, logged_minutes_ago: int, passed: bool,
    severity: dg.AssetCheckSeverity | None,
) -> None:
    emulator = start_emulator(Faults(error_rate=1.0))
    logged = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=logged_minutes_ago)
    insert(table, backlog(jobs=2, per_job=1, prefix="STALE"), now=logged)
    run_config = {"ops": {"autosys_sync_no_stale_pending_updates": {
        "config": {"warn_after_minutes": 60, "error_after_minutes": 240}}}}

    result = materialize(resources_for(emulator, table_url), instance, run_config=run_config)

    check = checks_by_name(result)["no_stale_pending_updates"]
    assert check.passed is passed
    if severity is not None:
        assert check.severity == severity
    assert check.metadata["pending_rows"].value == 2
    assert "STALE_000" in str(check.metadata["oldest_jobs"].value)


def test_no_permanently_failing_updates_flags_repeatedly_refused_job(
    table: JobStatusTable, table_url: str, start_emulator: StartEmulator,
    instance: dg.DagsterInstance,
) -> None:
    emulator = start_emulator(Faults(unknown_jobs=frozenset({"JOB_001"})))
    insert(table, backlog(jobs=2, per_job=1))
    resources = resources_for(emulator, table_url, backoff_base_s=0, backoff_cap_s=0)

    first = materialize(resources, instance)
    second = materialize(resources, instance)

    assert checks_by_name(first)["no_permanently_failing_updates"].passed
    check = checks_by_name(second)["no_permanently_failing_updates"]
    assert not check.passed
    assert check.metadata["permanently_failing_rows"].value == 1
    assert "JOB_001" in str(check.metadata["jobs"].value)


def _step_windows(instance: dg.DagsterInstance) -> list[tuple[float, float]]:
    windows = []
    for run in instance.get_runs():
        events = [e for e in instance.all_logs(run.run_id) if e.step_key == "autosys_sync"]
        start = [e.timestamp for e in events if e.dagster_event and e.dagster_event.is_step_start]
        end = [e.timestamp for e in events if e.dagster_event and e.dagster_event.is_step_success]
        windows.append((start[0], end[0]))
    return sorted(windows)


def _two_syncs_at_once(
    table_url: str, emulator: AutoSysEmulator, home: Path, *, limit: bool
) -> list[tuple[float, float]]:
    """Two sync runs in two processes on one instance, started together."""
    home.mkdir()
    (home / "dagster.yaml").write_text("{}\n")
    # Creating the storage first keeps the two children from racing to migrate it.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        if limit:
            wiring.limit_autosys_sync_pool(instance)
    env = {**os.environ, "DAGSTER_HOME": str(home), "AUTOSYS_USERNAME": USERNAME}
    command = [sys.executable, "-m", "jobops_dagster_tests.autosys.sync_child", table_url,
               emulator.url]
    children = [subprocess.Popen(command, env=env) for _ in range(2)]
    assert [child.wait(timeout=90) for child in children] == [0, 0]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return _step_windows(instance)


def test_autosys_sync_pool_limit_one_never_overlaps(
    table: JobStatusTable, table_url: str, start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """With the pool limited to 1 (as docs/autosys.md sets it up), the second sync's step
    waits for the first one's slot."""
    emulator = start_emulator(Faults(latency_s=0.25))  # each sync takes over a second
    insert(table, backlog(jobs=4, per_job=5))

    windows = _two_syncs_at_once(table_url, emulator, tmp_path / "home", limit=True)

    (_, first_end), (second_start, _) = windows
    assert second_start >= first_end
    assert len(emulator.applied_events()) == 20  # the second run found nothing left to send


def test_autosys_sync_without_pool_limit_can_overlap(
    table: JobStatusTable, table_url: str, start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """The control for the test above: with no limit the two steps do run at the same time."""
    emulator = start_emulator(Faults(latency_s=0.25))  # each sync takes over a second
    insert(table, backlog(jobs=4, per_job=5))

    windows = _two_syncs_at_once(table_url, emulator, tmp_path / "home", limit=False)

    (_, first_end), (second_start, _) = windows
    assert second_start < first_end
    assert len(emulator.applied_events()) > 20  # both read the same NO rows and sent them


def test_definitions_resolve_job_schedule_and_checks(table_url: str) -> None:
    defs = dg.Definitions.merge(wiring.defs, dg.Definitions(resources={
        "autosys": autosys_from_env(),
        "job_status_table": JobStatusTableResource(url=table_url, storage_options=LocalConfig()),
    }))
    job = defs.resolve_job_def("autosys_sync_job")
    schedule = defs.resolve_schedule_def("autosys_sync_every_15_minutes")
    assert schedule.cron_schedule == "*/15 * * * *"
    assert schedule.job_name == job.name
    assert {key.name for key in job.asset_layer.asset_graph.asset_check_keys} == {
        "no_stale_pending_updates", "no_permanently_failing_updates"}
    [spec] = [spec for spec in defs.resolve_all_asset_specs() if spec.key.path == ["autosys_sync"]]
    assert [dep.asset_key.path for dep in spec.deps] == [["job_status"]]
    assert wiring.autosys_sync.op.pool == "autosys_sync"


def test_autosys_sync_demo_sequence_failed_send_retried_next_run(
    table: JobStatusTable, table_url: str, monkeypatch: pytest.MonkeyPatch,
    instance: dg.DagsterInstance,
) -> None:
    """What `make demo` shows, through the same calls: an emulator whose first call fails,
    the resource built from the environment, and two runs."""
    emulator = emulator_module.start_emulator(password=PASSWORD, faults=Faults(fail_next=1),
                                              tls=True)
    try:
        for name, value in {**emulator.client_env(), "AUTOSYS_BACKOFF_BASE_S": "0"}.items():
            monkeypatch.setenv(name, value)
        insert(table, backlog(jobs=3, per_job=2))
        resources = {"autosys": autosys_from_env(),
                     "job_status_table": JobStatusTableResource(url=table_url,
                                                                storage_options=LocalConfig())}

        first = materialize(resources, instance)
        second = materialize(resources, instance)
    finally:
        emulator.stop()

    def numbers(result: dg.ExecuteInProcessResult) -> tuple[Any, ...]:
        [event] = result.asset_materializations_for_node("autosys_sync")
        return tuple(event.metadata[key].value
                     for key in ("failed_transient", "accepted", "still_pending"))

    assert numbers(first) == (1, 4, 2)  # one job's first status failed; its second waited
    assert numbers(second) == (0, 2, 0)
    assert flags(table) == {"YES": 6}
