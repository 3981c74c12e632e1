"""The AutoSys emulator itself: its job-status read endpoint, auth, fault switching, the
settings it hands to the resource, and its command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import dagster as dg
import httpx
import pytest

from jobops_dagster.autosys import emulator as emulator_module
from jobops_dagster.autosys.client import AutoSysStatus, StatusEvent, TransientAutoSysError
from jobops_dagster.autosys.emulator import AutoSysEmulator, Faults
from jobops_dagster.autosys.rest import RestAutoSysClient
from jobops_dagster.defs.autosys_resources import autosys_from_env
from jobops_dagster_tests.autosys.conftest import MakeClient, StartEmulator
from jobops_dagster_tests.autosys.support import PASSWORD, USERNAME


def test_job_status_endpoint_reports_last_applied_status(
    emulator: AutoSysEmulator, rest_client: RestAutoSysClient
) -> None:
    for status in (AutoSysStatus.FAILURE, AutoSysStatus.SUCCESS):
        rest_client.send_status(StatusEvent(event_id=status, job_name="J1", status=status))

    with httpx.Client(auth=(USERNAME, PASSWORD)) as http:
        known = http.get(f"{emulator.url}/AEWS/job-status/J1")
        unknown = http.get(f"{emulator.url}/AEWS/job-status/NEVER_SENT")
    assert (known.status_code, known.json()["status"]) == (200, "SUCCESS")
    assert unknown.status_code == 404


def test_job_status_endpoint_without_auth_is_401(emulator: AutoSysEmulator) -> None:
    response = httpx.get(f"{emulator.url}/AEWS/job-status/J1")
    assert response.status_code == 401


def test_set_faults_ends_an_outage(
    start_emulator: StartEmulator, make_client: MakeClient
) -> None:
    emulator = start_emulator(Faults(error_rate=1.0))
    client = make_client(emulator)
    event = StatusEvent(event_id="o1", job_name="OUTAGE", status=AutoSysStatus.SUCCESS)
    with pytest.raises(TransientAutoSysError):
        client.send_status(event)

    emulator.set_faults(Faults())
    client.send_status(event)

    assert [e.response for e in emulator.events()] == ["server_error", "accepted"]


def test_start_emulator_client_env_configures_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    emulator = emulator_module.start_emulator(password="demo-password", tls=True)
    try:
        for name, value in emulator.client_env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AUTOSYS_PASSWORD", "demo-password")
        # build_resources resolves dg.EnvVar the way a run does.
        with dg.build_resources({"autosys": autosys_from_env()}) as resources, \
                resources.autosys.client() as client:
            client.send_status(StatusEvent(event_id="d1", job_name="DEMO",
                                           status=AutoSysStatus.SUCCESS))
        assert emulator.final_statuses() == {"DEMO": "SUCCESS"}
    finally:
        emulator.stop()


def test_command_line_prints_url_and_serves() -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "jobops_dagster.autosys.emulator", "--port", "0",
         "--username", USERNAME],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "AUTOSYS_PASSWORD": PASSWORD},
    )
    try:
        assert child.stdout is not None
        announced = json.loads(child.stdout.readline())
        assert announced["url"].startswith("http://127.0.0.1:")
        assert announced["ca_bundle"] is None
        response = httpx.post(
            f"{announced['url']}/AEWS/event/change-status-job", auth=(USERNAME, PASSWORD),
            json={"jobName": "CLI_JOB", "jobStatus": "FAILURE", "comment": "c"},
        )
        assert response.status_code == 201
    finally:
        child.terminate()
        child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == 0


def test_command_line_without_password_exits_2() -> None:
    env = {key: value for key, value in os.environ.items() if key != "AUTOSYS_PASSWORD"}
    done = subprocess.run([sys.executable, "-m", "jobops_dagster.autosys.emulator"],
                          env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "set AUTOSYS_PASSWORD" in done.stderr
