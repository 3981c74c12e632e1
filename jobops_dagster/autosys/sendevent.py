"""The `sendevent` CLI backend: one process per status change, run without a shell.

`sendevent` only queues the event; AutoSys's event processor applies it later. A zero exit
status is therefore "queued", which is the most this backend can know.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import subprocess

from jobops_dagster.autosys.client import (
    AutoSysConfigurationError,
    PermanentAutoSysError,
    StatusEvent,
    TransientAutoSysError,
)

log = logging.getLogger(__name__)

# Phrases in sendevent's error output that mean the event itself is wrong, not the moment.
_PERMANENT_MARKERS = ("does not exist", "not found", "invalid job")
_CONFIGURATION_MARKERS = ("not authorized", "permission denied", "security")


@dataclasses.dataclass(frozen=True, kw_only=True)
class SendeventSettings:
    """Where the `sendevent` binary is and how long one call may take."""

    executable: str = "sendevent"
    timeout_s: float = 30.0


class SendeventAutoSysClient:
    """Runs `sendevent -E CHANGE_STATUS -s <status> -J <job> -C <comment>` per event."""

    def __init__(self, settings: SendeventSettings) -> None:
        self.settings = settings
        found = shutil.which(settings.executable)
        if found is None:
            raise AutoSysConfigurationError(
                f"the sendevent binary {settings.executable!r} was not found or is not "
                f"executable (PATH={os.environ.get('PATH', '')!r}); install the AutoSys client "
                "or set AUTOSYS_SENDEVENT to its full path"
            )
        self._executable = found

    @property
    def target(self) -> str:
        return self._executable

    def send_status(self, event: StatusEvent) -> None:
        argv = [
            self._executable,
            "-E",
            "CHANGE_STATUS",
            "-s",
            event.status.value,
            "-J",
            event.job_name,
            "-C",
            event.comment,
        ]
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=self.settings.timeout_s, check=False
            )
        except subprocess.TimeoutExpired as error:
            raise TransientAutoSysError(
                f"sendevent for job {event.job_name!r} did not finish within "
                f"{self.settings.timeout_s}s; it will be retried"
            ) from error
        except OSError as error:
            raise AutoSysConfigurationError(
                f"could not run sendevent at {self._executable!r}: {error}; check the path in "
                "AUTOSYS_SENDEVENT and its permissions"
            ) from error
        if done.returncode == 0:
            return
        message = (done.stderr or done.stdout).strip()[:200]
        where = f"sendevent for job {event.job_name!r} exited {done.returncode}: {message!r}"
        lowered = message.lower()
        if any(marker in lowered for marker in _CONFIGURATION_MARKERS):
            raise AutoSysConfigurationError(
                f"{where}; give the user running Dagster permission to send AutoSys events"
            )
        if any(marker in lowered for marker in _PERMANENT_MARKERS):
            raise PermanentAutoSysError(f"{where}; define the job in AutoSys or fix its name")
        raise TransientAutoSysError(f"{where}; it will be retried")

    def close(self) -> None:
        """Nothing to release: each event is its own process."""
