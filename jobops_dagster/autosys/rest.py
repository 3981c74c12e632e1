"""AutoSys Web Services (AEWS) backend: one HTTPS POST per status change, with Basic auth.

Public documentation disagrees on the change-status endpoint and its field names, so both are
settings. The default follows the most complete public catalogue.
"""

from __future__ import annotations

import base64
import dataclasses
import email.utils
import json
import logging
import ssl
import time

import httpx

from jobops_dagster.autosys.client import (
    AutoSysConfigurationError,
    PermanentAutoSysError,
    StatusEvent,
    TransientAutoSysError,
)

log = logging.getLogger(__name__)

DEFAULT_EVENT_PATH = "/AEWS/event/change-status-job"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RestSettings:
    """How to reach AEWS. The password is kept out of `repr` so it never reaches a log."""

    base_url: str
    username: str
    password: str = dataclasses.field(repr=False)
    event_path: str = DEFAULT_EVENT_PATH
    job_field: str = "jobName"
    status_field: str = "jobStatus"
    comment_field: str = "comment"
    verify_tls: bool = True
    ca_bundle: str | None = None
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    max_connections: int = 16


def _tls_context(settings: RestSettings) -> ssl.SSLContext | bool:
    if not settings.verify_tls:
        return False
    if settings.ca_bundle is None:
        return True
    try:
        return ssl.create_default_context(cafile=settings.ca_bundle)
    except (OSError, ssl.SSLError) as error:
        raise AutoSysConfigurationError(
            f"could not load the AutoSys CA bundle {settings.ca_bundle!r}: {error}; point "
            "AUTOSYS_CA_BUNDLE at a readable PEM file"
        ) from error


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _cert_verification_error(error: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate failure behind a transport error, if that is what it was."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class RestAutoSysClient:
    """Sends CHANGE_STATUS events to AEWS over one pool of keep-alive connections."""

    def __init__(self, settings: RestSettings) -> None:
        self.settings = settings
        self._url = settings.base_url.rstrip("/") + "/" + settings.event_path.lstrip("/")
        # The transport without httpx.Client: no redirects, cookies or auth flows are needed,
        # and skipping them cuts a quarter of the per-call CPU, which under the GIL is what
        # bounds throughput at high concurrency.
        self._transport = httpx.HTTPTransport(
            verify=_tls_context(settings),
            limits=httpx.Limits(
                max_connections=settings.max_connections,
                max_keepalive_connections=settings.max_connections,
            ),
        )
        self._timeout = httpx.Timeout(
            settings.read_timeout_s, connect=settings.connect_timeout_s
        ).as_dict()
        credentials = f"{settings.username}:{settings.password}".encode()
        self._headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Authorization": "Basic " + base64.b64encode(credentials).decode(),
        }

    @property
    def target(self) -> str:
        return self._url

    def send_status(self, event: StatusEvent) -> None:
        body = {
            self.settings.job_field: event.job_name,
            self.settings.status_field: event.status.value,
            self.settings.comment_field: event.comment,
        }
        request = httpx.Request(
            "POST", self._url, headers=self._headers, content=json.dumps(body).encode(),
            extensions={"timeout": self._timeout},
        )
        try:
            response = self._transport.handle_request(request)
            try:
                response.read()
            finally:
                response.close()
        except httpx.TimeoutException as error:
            raise TransientAutoSysError(
                f"POST {self._url} for job {event.job_name!r} timed out "
                f"({type(error).__name__}); it will be retried"
            ) from error
        except httpx.TransportError as error:
            cert_error = _cert_verification_error(error)
            if cert_error is not None:
                raise self._tls_error(cert_error) from error
            raise TransientAutoSysError(
                f"POST {self._url} for job {event.job_name!r} failed to connect or was cut "
                f"off ({type(error).__name__}: {error}); it will be retried"
            ) from error
        self._classify(response, event)

    def _tls_error(self, error: ssl.SSLCertVerificationError) -> AutoSysConfigurationError:
        return AutoSysConfigurationError(
            f"TLS verification of {self._url} failed ({error.verify_message}); set "
            "AUTOSYS_CA_BUNDLE to the CA that signed the AutoSys certificate"
        )

    def _classify(self, response: httpx.Response, event: StatusEvent) -> None:
        code = response.status_code
        if 200 <= code < 300:
            return
        detail = response.text[:200]
        where = f"POST {self._url} for job {event.job_name!r} answered {code}"
        if code in (401, 403):
            raise AutoSysConfigurationError(
                f"{where}: AutoSys refused the credentials of user "
                f"{self.settings.username!r}; check AUTOSYS_USERNAME and AUTOSYS_PASSWORD and "
                "that the user may send events"
            )
        if 300 <= code < 400:
            raise AutoSysConfigurationError(
                f"{where}: a redirect to {response.headers.get('Location')!r}, which this client "
                "does not follow; set AUTOSYS_URL to the address AEWS actually serves"
            )
        if code in (405, 415):
            raise AutoSysConfigurationError(
                f"{where}: the endpoint does not take this request; check AUTOSYS_EVENT_PATH "
                f"(now {self.settings.event_path!r}) against your AEWS version"
            )
        if code == 429 or code >= 500:
            raise TransientAutoSysError(
                f"{where}: {detail!r}; it will be retried", retry_after_s=_retry_after_s(response)
            )
        raise PermanentAutoSysError(
            f"{where}: {detail!r}; this row will not succeed until the job exists in AutoSys "
            "or the request fields (AUTOSYS_*_FIELD) match what AEWS expects"
        )

    def close(self) -> None:
        self._transport.close()
