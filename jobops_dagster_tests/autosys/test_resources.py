"""The `autosys` resource: how the AUTOSYS_* variables build it, and the set-up mistakes it
refuses before any call is made."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from jobops_dagster.autosys import fake_sendevent
from jobops_dagster.autosys.client import AutoSysConfigurationError
from jobops_dagster.autosys.sendevent import SendeventAutoSysClient
from jobops_dagster.defs.autosys_resources import AutoSysResource, autosys_from_env


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"base_url": "aews.example.com"}, "not an http"),
        ({"base_url": "https://user:pw@aews.example.com"}, "carries credentials"),
        ({"base_url": "https://aews.example.com", "username": "u"}, "needs a username and"),
    ],
)
def test_client_bad_rest_settings_are_configuration_errors(
    settings: dict[str, str], message: str
) -> None:
    with (
        pytest.raises(AutoSysConfigurationError, match=message),
        AutoSysResource(**settings).client(),
    ):
        pass


def test_autosys_from_env_reads_every_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AUTOSYS_URL": "https://aews.example.com:9443", "AUTOSYS_USERNAME": "svc",
        "AUTOSYS_PASSWORD": "secret", "AUTOSYS_EVENT_PATH": "/AEWS/event",
        "AUTOSYS_STATUS_FIELD": "status", "AUTOSYS_VERIFY_TLS": "false",
        "AUTOSYS_CONCURRENCY": "4", "AUTOSYS_MAX_ROWS_PER_RUN": "0",
    }.items():
        monkeypatch.setenv(name, value)

    with dg.build_resources({"autosys": autosys_from_env()}) as resources:
        autosys: AutoSysResource = resources.autosys
        settings = autosys.sync_settings()
        assert (autosys.username, autosys.password) == ("svc", "secret")
        assert (autosys.event_path, autosys.status_field, autosys.job_field) == (
            "/AEWS/event", "status", "jobName")
        assert autosys.verify_tls is False
        assert (settings.concurrency, settings.max_rows_per_run) == (4, None)


def test_autosys_from_env_unknown_backend_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOSYS_BACKEND", "soap")
    with pytest.raises(ValueError, match="'rest' or 'sendevent'"):
        autosys_from_env()


def test_client_sendevent_backend_uses_configured_binary(tmp_path: Path) -> None:
    binary = fake_sendevent.install(tmp_path)
    resource = AutoSysResource(backend="sendevent", sendevent_path=str(binary))
    with resource.client() as client:
        assert isinstance(client, SendeventAutoSysClient)
        assert client.target == str(binary)
