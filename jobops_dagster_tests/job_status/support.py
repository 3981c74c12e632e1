"""Writers of notification files for the job_status tests."""

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from jobops_dagster.job_status.notifications import NotificationFolder
from jobops_dagster.job_status.table import JobStatusTable

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
TODAY = NOW.date().isoformat()
YESTERDAY = (NOW - dt.timedelta(days=1)).date().isoformat()


def drop(folder: NotificationFolder, name: str, **overrides: Any) -> Path:
    """Write a valid notification (with `overrides`) the way a well-behaved writer does."""
    body: dict[str, Any] = {
        "version": 1,
        "job_name": "PAYROLL.load_daily",
        "file_name": f"{name}.csv",
        "status": "success",
        "executed_at": NOW.isoformat(),
    }
    body.update(overrides)
    return folder.write(name, {k: v for k, v in body.items() if v is not ...})


def drop_raw(folder: NotificationFolder, name: str, raw: bytes) -> Path:
    folder.root.mkdir(parents=True, exist_ok=True)
    path = folder.root / name
    path.write_bytes(raw)
    return path


def age(path: Path, seconds: float) -> None:
    stamp = path.lstat().st_mtime - seconds
    os.utime(path, (stamp, stamp), follow_symlinks=False)


def as_json(value: Any) -> bytes:
    return json.dumps(value).encode()


def flags_by_event(table: JobStatusTable) -> dict[str, str]:
    rows = table.read(["event_id", "autosys_update_flag"]).to_pylist()
    return {row["event_id"]: row["autosys_update_flag"] for row in rows}
