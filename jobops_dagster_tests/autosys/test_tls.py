"""TLS against the emulator's self-signed certificate: verification is on by default, fails
without the CA, and passes once the CA bundle is configured."""

from __future__ import annotations

import pytest

from jobops_dagster.autosys.client import AutoSysConfigurationError, AutoSysStatus, StatusEvent
from jobops_dagster.autosys.emulator import AutoSysEmulator
from jobops_dagster_tests.autosys.conftest import MakeClient, StartEmulator

EVENT = StatusEvent(event_id="t1", job_name="TLS_JOB", status=AutoSysStatus.SUCCESS)


@pytest.fixture
def tls_emulator(start_emulator: StartEmulator) -> AutoSysEmulator:
    return start_emulator(tls=True)


def test_send_status_self_signed_without_ca_fails_verification(
    tls_emulator: AutoSysEmulator, make_client: MakeClient
) -> None:
    assert tls_emulator.url.startswith("https://127.0.0.1:")
    client = make_client(tls_emulator)

    with pytest.raises(AutoSysConfigurationError, match=r"TLS verification .* AUTOSYS_CA_BUNDLE"):
        client.send_status(EVENT)
    assert tls_emulator.applied_events() == []


def test_send_status_with_ca_bundle_is_accepted(
    tls_emulator: AutoSysEmulator, make_client: MakeClient
) -> None:
    client = make_client(tls_emulator, ca_bundle=str(tls_emulator.ca_bundle))

    client.send_status(EVENT)

    assert tls_emulator.final_statuses() == {"TLS_JOB": "SUCCESS"}


def test_client_unreadable_ca_bundle_is_configuration_error(
    tls_emulator: AutoSysEmulator, make_client: MakeClient
) -> None:
    with pytest.raises(AutoSysConfigurationError, match="could not load the AutoSys CA bundle"):
        make_client(tls_emulator, ca_bundle="/nonexistent/ca.pem")
