"""The `sendevent` CLI backend, run against a fake `sendevent` executable that records its
argument list. The real binary ships with the AutoSys client, which cannot exist here; the
fake is a real executable on disk, so the process launch itself is exercised."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobops_dagster.autosys import fake_sendevent
from jobops_dagster.autosys.client import (
    AutoSysConfigurationError,
    AutoSysStatus,
    PermanentAutoSysError,
    StatusEvent,
    TransientAutoSysError,
)
from jobops_dagster.autosys.sendevent import SendeventAutoSysClient, SendeventSettings

EVENT = StatusEvent(event_id="e7", job_name="GL#close-month.v2", status=AutoSysStatus.FAILURE)


@pytest.fixture
def log_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "sendevent.jsonl"
    monkeypatch.setenv("FAKE_SENDEVENT_LOG", str(path))
    return path


@pytest.fixture
def client(tmp_path: Path, log_path: Path) -> SendeventAutoSysClient:
    binary = fake_sendevent.install(tmp_path)
    return SendeventAutoSysClient(SendeventSettings(executable=str(binary), timeout_s=10))


def test_send_status_passes_exact_argument_list(
    client: SendeventAutoSysClient, log_path: Path
) -> None:
    client.send_status(EVENT)

    assert fake_sendevent.read_log(log_path) == [
        ["-E", "CHANGE_STATUS", "-s", "FAILURE", "-J", "GL#close-month.v2",
         "-C", "jobops event_id=e7"]
    ]


def test_send_status_unknown_job_is_permanent(
    client: SendeventAutoSysClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SENDEVENT_KNOWN_JOBS", "SOME_OTHER_JOB")
    with pytest.raises(PermanentAutoSysError, match="does not exist"):
        client.send_status(EVENT)


def test_send_status_event_server_down_is_transient(
    client: SendeventAutoSysClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SENDEVENT_EXIT", "4")
    with pytest.raises(TransientAutoSysError, match="exited 4"):
        client.send_status(EVENT)


def test_client_missing_binary_is_configuration_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "no" / "sendevent")
    with pytest.raises(AutoSysConfigurationError, match="AUTOSYS_SENDEVENT"):
        SendeventAutoSysClient(SendeventSettings(executable=missing))
