"""The AEWS REST backend against the real emulator on 127.0.0.1: what AutoSys accepts, and how
each kind of failure is classified (transient, permanent, configuration)."""

from __future__ import annotations

import pytest

from jobops_dagster.autosys.client import (
    AutoSysConfigurationError,
    AutoSysStatus,
    PermanentAutoSysError,
    StatusEvent,
    TransientAutoSysError,
    build_event,
    to_autosys_status,
)
from jobops_dagster.autosys.emulator import AutoSysEmulator, Faults
from jobops_dagster.autosys.rest import RestAutoSysClient
from jobops_dagster_tests.autosys.conftest import MakeClient, StartEmulator
from jobops_dagster_tests.autosys.support import event_id_of

EVENT = StatusEvent(event_id="e1", job_name="PAYROLL.load_daily", status=AutoSysStatus.SUCCESS)


def test_to_autosys_status_known_values_map_to_upper_case() -> None:
    assert to_autosys_status("success") is AutoSysStatus.SUCCESS
    assert to_autosys_status("failure") is AutoSysStatus.FAILURE


def test_to_autosys_status_unknown_value_is_permanent() -> None:
    with pytest.raises(PermanentAutoSysError, match="'done' has no AutoSys equivalent"):
        to_autosys_status("done")


@pytest.mark.parametrize("name", ["", "x" * 65, "has space", "semi;colon", "ünïcode"])
def test_build_event_invalid_job_name_is_permanent(name: str) -> None:
    with pytest.raises(PermanentAutoSysError, match="not a valid AutoSys job name"):
        build_event(event_id="e1", job_name=name, status="success")


def test_send_status_accepted_reaches_emulator_log(
    emulator: AutoSysEmulator, rest_client: RestAutoSysClient
) -> None:
    rest_client.send_status(EVENT)

    [event] = emulator.events()
    assert (event.job_name, event.status, event.response) == (
        "PAYROLL.load_daily", "SUCCESS", "accepted")
    assert event_id_of(event.comment) == "e1"
    assert emulator.final_statuses() == {"PAYROLL.load_daily": "SUCCESS"}


def test_send_status_wrong_password_is_configuration_error(
    emulator: AutoSysEmulator, make_client: MakeClient
) -> None:
    client = make_client(emulator, password="not-the-password")
    with pytest.raises(AutoSysConfigurationError, match="AUTOSYS_PASSWORD"):
        client.send_status(EVENT)
    assert emulator.applied_events() == []


def test_send_status_unknown_job_is_permanent(
    start_emulator: StartEmulator, make_client: MakeClient
) -> None:
    emulator = start_emulator(known_jobs=frozenset({"OTHER_JOB"}))
    client = make_client(emulator)
    with pytest.raises(PermanentAutoSysError, match="answered 404"):
        client.send_status(EVENT)


def test_send_status_503_is_transient(
    start_emulator: StartEmulator, make_client: MakeClient
) -> None:
    emulator = start_emulator(Faults(error_rate=1.0))
    client = make_client(emulator)
    with pytest.raises(TransientAutoSysError, match="answered 503") as caught:
        client.send_status(EVENT)
    assert caught.value.retry_after_s is None


def test_send_status_429_is_transient_with_retry_after(
    start_emulator: StartEmulator, make_client: MakeClient
) -> None:
    emulator = start_emulator(Faults(throttle_rate=1.0, retry_after_s=7))
    client = make_client(emulator)
    with pytest.raises(TransientAutoSysError, match="answered 429") as caught:
        client.send_status(EVENT)
    assert caught.value.retry_after_s == 7.0


def test_send_status_timeout_is_transient_and_event_still_applied(
    start_emulator: StartEmulator, make_client: MakeClient
) -> None:
    emulator = start_emulator(Faults(timeout_rate=1.0, stall_s=1.0))
    client = make_client(emulator, read_timeout_s=0.2)
    with pytest.raises(TransientAutoSysError, match="timed out"):
        client.send_status(EVENT)
    # The emulator applied the event before stalling, as a slow AutoSys would.
    assert [event.response for event in emulator.applied_events()] == ["timeout"]


def test_send_status_connection_reset_is_transient(
    start_emulator: StartEmulator, make_client: MakeClient
) -> None:
    emulator = start_emulator(Faults(reset_rate=1.0))
    client = make_client(emulator)
    with pytest.raises(TransientAutoSysError, match="cut off"):
        client.send_status(EVENT)
    assert emulator.applied_events() == []


def test_send_status_nothing_listening_is_transient(
    emulator: AutoSysEmulator, make_client: MakeClient
) -> None:
    url = emulator.url
    emulator.stop()
    client = make_client(emulator, base_url=url)
    with pytest.raises(TransientAutoSysError, match="failed to connect"):
        client.send_status(EVENT)


def test_send_status_custom_path_and_fields_are_used(
    start_emulator: StartEmulator, make_client: MakeClient
) -> None:
    emulator = start_emulator(event_path="/AEWS/event", job_field="job", status_field="status")
    client = make_client(
        emulator, event_path="/AEWS/event", job_field="job", status_field="status"
    )
    client.send_status(EVENT)
    assert emulator.final_statuses() == {"PAYROLL.load_daily": "SUCCESS"}


def test_send_status_mismatched_field_names_are_permanent(
    start_emulator: StartEmulator, make_client: MakeClient
) -> None:
    emulator = start_emulator(job_field="job", status_field="status")
    client = make_client(emulator)
    with pytest.raises(PermanentAutoSysError, match="answered 400"):
        client.send_status(EVENT)
