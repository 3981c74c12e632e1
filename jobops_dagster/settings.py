"""Embedded defaults and the environment variables that override them.

Every default points inside the working directory (`.data/`), so a fresh checkout runs with
nothing outside the repo. The README lists each variable.
"""

from __future__ import annotations

import os
from pathlib import Path


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def data_dir() -> Path:
    return Path(_env("JOBOPS_DATA_DIR", ".data")).resolve()


def job_status_url() -> str:
    return _env("JOBOPS_JOB_STATUS_URL", str(data_dir() / "job_status"))


def notification_dir() -> str:
    return _env("JOBOPS_NOTIFICATION_DIR", str(data_dir() / "notifications"))


def monitored_jobs() -> list[str]:
    """Jobs whose finished runs become completions in `job_status`."""
    return [name.strip() for name in _env("JOBOPS_MONITORED_JOBS", "run_task").split(",") if name]


def maintenance_cron() -> str:
    return _env("JOBOPS_MAINTENANCE_CRON", "30 3 * * *")


def schedule_timezone() -> str:
    return _env("JOBOPS_SCHEDULE_TIMEZONE", "UTC")


def partitions_start_date() -> str:
    return _env("JOBOPS_PARTITIONS_START", "2026-01-01")
