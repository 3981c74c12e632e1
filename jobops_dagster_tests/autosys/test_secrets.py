"""The AutoSys password never leaves the client: not in Python logs, console output, the
Dagster event log, materialization metadata, run config, run tags, exception text or the
job_status table, whether the sync succeeds, meets faults, or is refused."""

from __future__ import annotations

import base64
import logging
import traceback
from collections.abc import Iterator

import dagster as dg
import pytest
from dagster_deltalake import LocalConfig

from jobops_dagster.autosys.client import AutoSysError, AutoSysStatus, StatusEvent
from jobops_dagster.autosys.emulator import Faults
from jobops_dagster.autosys.rest import RestAutoSysClient, RestSettings
from jobops_dagster.defs.autosys_resources import AutoSysResource
from jobops_dagster.defs.autosys_sync import (
    autosys_sync,
    no_permanently_failing_updates,
    no_stale_pending_updates,
)
from jobops_dagster.defs.resources import JobStatusTableResource
from jobops_dagster.job_status.table import JobStatusTable
from jobops_dagster_tests.autosys.conftest import StartEmulator
from jobops_dagster_tests.autosys.support import PASSWORD, USERNAME, backlog, insert

SECRETS = [PASSWORD, base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()]


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


def assert_no_secret(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"the AutoSys password leaked into {where}"


def run_texts(instance: dg.DagsterInstance) -> Iterator[tuple[str, str]]:
    for run in instance.get_runs():
        yield "run config", repr(run.run_config)
        yield "run tags", repr(run.tags)
        for entry in instance.all_logs(run.run_id):
            yield "the Dagster event log", dg.serialize_value(entry)


def test_password_absent_everywhere_after_faulty_and_refused_syncs(
    table: JobStatusTable, table_url: str, start_emulator: StartEmulator,
    instance: dg.DagsterInstance, caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("AUTOSYS_PASSWORD", PASSWORD)
    faulty = start_emulator(Faults(error_rate=0.3, throttle_rate=0.2, reset_rate=0.1,
                                   unknown_jobs=frozenset({"JOB_002"}), seed=5))
    refusing = start_emulator(password="some-other-password")
    insert(table, backlog(jobs=4, per_job=3))
    exceptions: list[str] = []

    table_resource = JobStatusTableResource(url=table_url, storage_options=LocalConfig())
    autosys_config = {"username": USERNAME, "password": {"env": "AUTOSYS_PASSWORD"},
                      "backoff_base_s": 0, "backoff_cap_s": 0}
    for emulator in (faulty, refusing):
        # The password travels as run config naming the variable, as a launchpad run's would.
        run_config = {"resources": {"autosys": {"config": {**autosys_config,
                                                           "base_url": emulator.url}}}}
        result = dg.materialize(
            [autosys_sync, no_stale_pending_updates, no_permanently_failing_updates],
            resources={"autosys": AutoSysResource.configure_at_launch(),
                       "job_status_table": table_resource},
            run_config=run_config, instance=instance, raise_on_error=False,
        )
        for event in result.all_events:
            if event.is_step_failure and event.step_failure_data:
                exceptions.append(event.step_failure_data.error.to_string())
    assert not result.success, "the refused sync should have failed its run"

    client = RestAutoSysClient(RestSettings(base_url=refusing.url, username=USERNAME,
                                            password=PASSWORD))
    with pytest.raises(AutoSysError) as caught:
        client.send_status(StatusEvent(event_id="x", job_name="JOB_000",
                                       status=AutoSysStatus.SUCCESS))
    client.close()
    exceptions.append("".join(traceback.format_exception(caught.value)))
    exceptions.append(repr(client.settings))

    console = capfd.readouterr()
    assert_no_secret("Python logs", caplog.text)
    assert_no_secret("console output", console.out + console.err)
    for where, text in run_texts(instance):
        assert_no_secret(where, text)
    for text in exceptions:
        assert_no_secret("exception text", text)
    assert_no_secret("the job_status table", repr(table.read().to_pylist()))
    run_configs = [text for where, text in run_texts(instance) if where == "run config"]
    assert all("AUTOSYS_PASSWORD" in text for text in run_configs)  # the name, not the value
    assert "refused the credentials" in exceptions[-2]
