"""Fixtures for the AutoSys tests: a real Delta table under tmp_path and the real AutoSys
emulator on 127.0.0.1, started per test and stopped afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from jobops_dagster.autosys.emulator import AutoSysEmulator, EmulatorConfig, Faults
from jobops_dagster.autosys.rest import RestAutoSysClient, RestSettings
from jobops_dagster_tests.autosys.support import PASSWORD, USERNAME

StartEmulator = Callable[..., AutoSysEmulator]
NO_FAULTS = Faults()


@pytest.fixture
def start_emulator() -> Iterator[StartEmulator]:
    started: list[AutoSysEmulator] = []

    def start(faults: Faults = NO_FAULTS, **config: object) -> AutoSysEmulator:
        values: dict[str, object] = {"username": USERNAME, "password": PASSWORD, **config}
        settings = EmulatorConfig(faults=faults, **values)  # type: ignore[arg-type]
        emulator = AutoSysEmulator(settings).start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emulator(start_emulator: StartEmulator) -> AutoSysEmulator:
    return start_emulator()


MakeClient = Callable[..., RestAutoSysClient]


@pytest.fixture
def make_client() -> Iterator[MakeClient]:
    """REST clients for an emulator, closed after the test so no socket is left open."""
    made: list[RestAutoSysClient] = []

    def make(emulator: AutoSysEmulator, **overrides: object) -> RestAutoSysClient:
        client = RestAutoSysClient(rest_settings(emulator, **overrides))
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def rest_client(emulator: AutoSysEmulator, make_client: MakeClient) -> RestAutoSysClient:
    return make_client(emulator)


def rest_settings(emulator: AutoSysEmulator, **overrides: object) -> RestSettings:
    values: dict[str, object] = {
        "base_url": emulator.url,
        "username": USERNAME,
        "password": PASSWORD,
        "read_timeout_s": 0.5,
        "connect_timeout_s": 0.5,
    }
    values.update(overrides)
    return RestSettings(**values)  # type: ignore[arg-type]
