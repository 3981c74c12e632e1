"""The `autosys` resource: which backend reaches AutoSys, and how the sync paces itself.

The credentials are only ever read from the environment (`dg.EnvVar("AUTOSYS_USERNAME")` and
`dg.EnvVar("AUTOSYS_PASSWORD")`), so run config shows the variables' names, never their values.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from typing import Literal

import dagster as dg
from pydantic import Field

from jobops_dagster.autosys.client import AutoSysClient, AutoSysConfigurationError
from jobops_dagster.autosys.rest import DEFAULT_EVENT_PATH, RestAutoSysClient, RestSettings
from jobops_dagster.autosys.sendevent import SendeventAutoSysClient, SendeventSettings
from jobops_dagster.autosys.sync import SyncSettings


class AutoSysResource(dg.ConfigurableResource):
    """AutoSys, reached through AutoSys Web Services (REST) or the `sendevent` CLI."""

    backend: Literal["rest", "sendevent"] = Field(default="rest", description="How to reach it.")
    base_url: str = Field(default="", description="AEWS base URL, e.g. https://host:9443.")
    username: str = Field(default="", description="AEWS user for Basic auth.")
    password: str = Field(default="", description='Set with dg.EnvVar("AUTOSYS_PASSWORD").')
    event_path: str = Field(default=DEFAULT_EVENT_PATH, description="Change-status endpoint.")
    job_field: str = Field(default="jobName", description="JSON field for the job name.")
    status_field: str = Field(default="jobStatus", description="JSON field for the status.")
    comment_field: str = Field(default="comment", description="JSON field for the comment.")
    verify_tls: bool = Field(default=True, description="Verify the AEWS certificate.")
    ca_bundle: str | None = Field(default=None, description="PEM file of CAs to trust.")
    connect_timeout_s: float = Field(default=5.0, description="Seconds to connect.")
    read_timeout_s: float = Field(default=30.0, description="Seconds to wait for an answer.")
    sendevent_path: str = Field(default="sendevent", description="The sendevent binary.")
    concurrency: int = Field(default=16, description="Jobs whose statuses are sent at once.")
    backoff_base_s: float = Field(default=60.0, description="Wait after a first failure.")
    backoff_cap_s: float = Field(default=3600.0, description="Longest wait between attempts.")
    max_rows_per_run: int = Field(
        default=50_000, description="Rows one run sends at most; 0 for no limit."
    )

    @contextlib.contextmanager
    def client(self) -> Iterator[AutoSysClient]:
        """A connected client for one run, closed afterwards."""
        client: AutoSysClient
        if self.backend == "sendevent":
            client = SendeventAutoSysClient(
                SendeventSettings(executable=self.sendevent_path, timeout_s=self.read_timeout_s)
            )
        else:
            client = RestAutoSysClient(self._rest_settings())
        try:
            yield client
        finally:
            client.close()

    def _rest_settings(self) -> RestSettings:
        if not self.base_url.startswith(("http://", "https://")):
            raise AutoSysConfigurationError(
                f"AutoSys base URL {self.base_url!r} is not an http(s) URL; set AUTOSYS_URL, "
                "e.g. https://aews.example.com:9443"
            )
        if "@" in self.base_url.split("//", 1)[1].split("/", 1)[0]:
            raise AutoSysConfigurationError(
                "AutoSys base URL carries credentials; remove them from AUTOSYS_URL and set "
                "AUTOSYS_USERNAME and AUTOSYS_PASSWORD instead"
            )
        if not self.username or not self.password:
            raise AutoSysConfigurationError(
                "AutoSys REST backend needs a username and password; set AUTOSYS_USERNAME and "
                "AUTOSYS_PASSWORD"
            )
        return RestSettings(
            base_url=self.base_url, username=self.username, password=self.password,
            event_path=self.event_path, job_field=self.job_field,
            status_field=self.status_field, comment_field=self.comment_field,
            verify_tls=self.verify_tls, ca_bundle=self.ca_bundle,
            connect_timeout_s=self.connect_timeout_s, read_timeout_s=self.read_timeout_s,
            max_connections=self.concurrency,
        )

    def sync_settings(self) -> SyncSettings:
        return SyncSettings(
            concurrency=self.concurrency,
            backoff_base=dt.timedelta(seconds=self.backoff_base_s),
            backoff_cap=dt.timedelta(seconds=self.backoff_cap_s),
            max_rows_per_run=self.max_rows_per_run or None,
        )


def autosys_from_env() -> AutoSysResource:
    """The resource as the AUTOSYS_* environment variables describe it (see docs/autosys.md)."""
    env = os.environ.get
    backend = env("AUTOSYS_BACKEND") or "rest"
    if backend not in ("rest", "sendevent"):
        raise ValueError(f"AUTOSYS_BACKEND is {backend!r}; set it to 'rest' or 'sendevent'")
    return AutoSysResource(
        backend=backend,  # type: ignore[arg-type]
        # These resolve when a run starts, so run config holds only the names, and a new
        # emulator port needs no code reload.
        base_url=dg.EnvVar("AUTOSYS_URL") if backend == "rest" else "",
        username=dg.EnvVar("AUTOSYS_USERNAME") if backend == "rest" else "",
        password=dg.EnvVar("AUTOSYS_PASSWORD") if backend == "rest" else "",
        event_path=env("AUTOSYS_EVENT_PATH") or DEFAULT_EVENT_PATH,
        job_field=env("AUTOSYS_JOB_FIELD") or "jobName",
        status_field=env("AUTOSYS_STATUS_FIELD") or "jobStatus",
        comment_field=env("AUTOSYS_COMMENT_FIELD") or "comment",
        verify_tls=(env("AUTOSYS_VERIFY_TLS") or "true").lower() not in ("0", "false", "no"),
        ca_bundle=env("AUTOSYS_CA_BUNDLE") or None,
        connect_timeout_s=float(env("AUTOSYS_CONNECT_TIMEOUT_S") or 5),
        read_timeout_s=float(env("AUTOSYS_READ_TIMEOUT_S") or 30),
        sendevent_path=env("AUTOSYS_SENDEVENT") or "sendevent",
        concurrency=int(env("AUTOSYS_CONCURRENCY") or 16),
        backoff_base_s=float(env("AUTOSYS_BACKOFF_BASE_S") or 60),
        backoff_cap_s=float(env("AUTOSYS_BACKOFF_CAP_S") or 3600),
        max_rows_per_run=int(env("AUTOSYS_MAX_ROWS_PER_RUN") or 50_000),
    )
