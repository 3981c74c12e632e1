"""A local stand-in for AutoSys Web Services, with an event log and injectable faults.

It serves the configured change-status endpoint and `GET /AEWS/job-status/<job>`, checks Basic
auth, and records every event it receives. It binds 127.0.0.1 only. Run it with
`python -m jobops_dagster.autosys.emulator --port 0`; it prints one JSON line with its URL.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hmac
import logging
import random
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from jobops_dagster.autosys.client import AutoSysStatus
from jobops_dagster.autosys.emulator_http import EmulatorServer
from jobops_dagster.autosys.rest import DEFAULT_EVENT_PATH
from jobops_dagster.autosys.tls import write_self_signed
from jobops_dagster.job_status.schema import AUTOSYS_JOB_NAME

log = logging.getLogger(__name__)

Response = Literal["accepted", "unknown_job", "bad_request", "unauthorized", "throttled",
                   "server_error", "reset", "timeout"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Faults:
    """What goes wrong, and how often. Rates are per request and add up to at most 1.

    A timeout applies the event and then answers after `stall_s`, as a slow real server would:
    the client gives up, sends again later, and AutoSys sees the event twice.
    """

    latency_s: float = 0.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    reset_rate: float = 0.0
    throttle_rate: float = 0.0
    retry_after_s: int = 1
    stall_s: float = 2.0
    fail_next: int = 0
    unknown_jobs: frozenset[str] = frozenset()
    seed: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class EmulatorConfig:
    username: str = "jobops"
    password: str = dataclasses.field(repr=False)
    known_jobs: frozenset[str] | None = None
    event_path: str = DEFAULT_EVENT_PATH
    job_field: str = "jobName"
    status_field: str = "jobStatus"
    comment_field: str = "comment"
    tls: bool = False
    faults: Faults = Faults()


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReceivedEvent:
    """One event request as the emulator saw it. `applied` means AutoSys now has the status."""

    seq: int
    received_at: float
    job_name: str | None
    status: str | None
    comment: str | None
    response: Response
    applied: bool


class AutoSysEmulator:
    """Start with `start()` (or `with`), read `url` and `ca_bundle`, stop with `stop()`."""

    def __init__(self, config: EmulatorConfig, *, port: int = 0) -> None:
        self.config = config
        self._faults = config.faults
        self._fail_next = config.faults.fail_next
        self._random = random.Random(config.faults.seed)
        self._lock = threading.Lock()
        self._events: list[ReceivedEvent] = []
        self._statuses: dict[str, str] = {}
        self._in_flight = 0
        self.max_in_flight = 0
        self._workdir = tempfile.TemporaryDirectory(prefix="autosys-emulator-")
        self.ca_bundle: Path | None = None
        self._server = EmulatorServer(("127.0.0.1", port), emulator=self)
        if config.tls:
            pair = write_self_signed(Path(self._workdir.name))
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(pair.cert_path, pair.key_path)
            self._server.ssl_context = context
            self.ca_bundle = pair.cert_path
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    @property
    def url(self) -> str:
        scheme = "https" if self.config.tls else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> AutoSysEmulator:
        self._thread.start()
        log.info("AutoSys emulator listening on %s", self.url)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._workdir.cleanup()

    def __enter__(self) -> AutoSysEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client_env(self) -> dict[str, str]:
        """AUTOSYS_* variables that point `autosys_from_env()` here; AUTOSYS_PASSWORD aside."""
        env = {"AUTOSYS_BACKEND": "rest", "AUTOSYS_URL": self.url,
               "AUTOSYS_USERNAME": self.config.username}
        if self.ca_bundle is not None:
            env["AUTOSYS_CA_BUNDLE"] = str(self.ca_bundle)
        return env

    @property
    def faults(self) -> Faults:
        return self._faults

    def set_faults(self, faults: Faults) -> None:
        """Change the faults from now on, e.g. to end an outage in the middle of a test."""
        with self._lock:
            self._faults = faults
            self._fail_next = faults.fail_next
            if faults.seed is not None:
                self._random.seed(faults.seed)

    def events(self) -> list[ReceivedEvent]:
        """Every event request received so far, in arrival order."""
        with self._lock:
            return list(self._events)

    def applied_events(self) -> list[ReceivedEvent]:
        return [event for event in self.events() if event.applied]

    def final_statuses(self) -> dict[str, str]:
        """The last status AutoSys holds for each job."""
        with self._lock:
            return dict(self._statuses)

    @contextlib.contextmanager
    def in_flight(self) -> Iterator[None]:
        """Count a request while it is handled; `max_in_flight` keeps the highest count."""
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def draw_fault(self) -> Response | None:
        with self._lock:
            faults = self._faults
            if self._fail_next > 0:
                self._fail_next -= 1
                return "server_error"
            draw = self._random.random()
        for response, rate in (
            ("server_error", faults.error_rate),
            ("timeout", faults.timeout_rate),
            ("reset", faults.reset_rate),
            ("throttled", faults.throttle_rate),
        ):
            if draw < rate:
                return response  # type: ignore[return-value]
            draw -= rate
        return None

    def authorised(self, header: str | None) -> bool:
        expected = f"{self.config.username}:{self.config.password}".encode()
        given = b""
        if header and header.startswith("Basic "):
            try:
                given = base64.b64decode(header[6:], validate=True)
            except ValueError:
                given = b""
        return hmac.compare_digest(given, expected)

    def judge(self, body: dict[str, Any]) -> Response:
        job = body.get(self.config.job_field)
        status = body.get(self.config.status_field)
        if not isinstance(job, str) or status not in set(AutoSysStatus):
            return "bad_request"
        known = self.config.known_jobs
        if not AUTOSYS_JOB_NAME.fullmatch(job) or (known is not None and job not in known):
            return "unknown_job"
        if job in self._faults.unknown_jobs:
            return "unknown_job"
        return "accepted"

    def record(self, body: dict[str, Any], response: Response, *, applied: bool) -> None:
        job = body.get(self.config.job_field)
        status = body.get(self.config.status_field)
        with self._lock:
            self._events.append(
                ReceivedEvent(
                    seq=len(self._events) + 1,
                    received_at=time.time(),
                    job_name=job if isinstance(job, str) else None,
                    status=status if isinstance(status, str) else None,
                    comment=body.get(self.config.comment_field),
                    response=response,
                    applied=applied,
                )
            )
            if applied and isinstance(job, str) and isinstance(status, str):
                self._statuses[job] = status


def start_emulator(
    *,
    password: str,
    username: str = "jobops",
    faults: Faults = Faults(),
    tls: bool = False,
    known_jobs: frozenset[str] | None = None,
    port: int = 0,
) -> AutoSysEmulator:
    """Start an emulator on 127.0.0.1 (for `make demo`, `make dev` and notebooks).

    Read `.url` and `.client_env()`, change faults with `.set_faults()`, end with `.stop()`.
    """
    config = EmulatorConfig(username=username, password=password, faults=faults, tls=tls,
                            known_jobs=known_jobs)
    return AutoSysEmulator(config, port=port).start()


if __name__ == "__main__":
    import sys

    from jobops_dagster.autosys.emulator_cli import main

    sys.exit(main(sys.argv[1:]))
