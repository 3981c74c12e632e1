"""Columns of the `job_status` table and the record type for one row."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import re

import pyarrow as pa

AUTOSYS_JOB_NAME = re.compile(r"[A-Za-z0-9_.#-]{1,64}")


class Status(enum.StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"


class Flag(enum.StrEnum):
    """Whether AutoSys has accepted the row's status."""

    NO = "NO"
    YES = "YES"


class Source(enum.StrEnum):
    NOTIFICATION_FILE = "notification_file"
    DAGSTER_RUN = "dagster_run"


TIMESTAMP = pa.timestamp("us", tz="UTC")

SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("job_name", pa.string(), nullable=False),
        pa.field("file_name", pa.string()),
        pa.field("status", pa.string(), nullable=False),
        pa.field("executed_at", TIMESTAMP, nullable=False),
        pa.field("execution_date", pa.string(), nullable=False),
        pa.field("logged_at", TIMESTAMP, nullable=False),
        pa.field("vm", pa.string()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("autosys_update_flag", pa.string(), nullable=False),
        pa.field("attempts", pa.int32(), nullable=False),
        pa.field("last_error", pa.string()),
        pa.field("updated_at", TIMESTAMP),
        pa.field("next_attempt_at", TIMESTAMP),
    ]
)
PARTITION_BY = ["execution_date"]


def validate_job_name(name: str) -> str:
    """Return `name` if AutoSys would accept it as a job name, else raise ValueError."""
    if not AUTOSYS_JOB_NAME.fullmatch(name):
        raise ValueError(
            f"job name {name!r} is not a valid AutoSys job name: use 1 to 64 characters "
            "from A-Z, a-z, 0-9 and _ . # -"
        )
    return name


def event_id_for(
    *, source: Source, job_name: str, file_name: str | None, status: Status,
    executed_at: dt.datetime, run_id: str | None = None,
) -> str:
    """A deterministic id for one completion, so every re-ingestion maps to the same row.

    A Dagster run is identified by its run id; a notification file by what it reports.
    """
    if run_id is not None:
        key = f"run|{run_id}"
    else:
        stamp = executed_at.astimezone(dt.UTC).isoformat()
        key = f"file|{job_name}|{file_name or ''}|{status.value}|{stamp}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Completion:
    """One job execution as reported by a notification file or a Dagster run."""

    event_id: str
    job_name: str
    file_name: str | None
    status: Status
    executed_at: dt.datetime
    vm: str | None
    source: Source

    @classmethod
    def reported(
        cls, *, job_name: str, file_name: str | None, status: Status, executed_at: dt.datetime,
        vm: str | None, run_id: str | None = None,
    ) -> Completion:
        """A completion as a Dagster run (`run_id`) or a notification file reports it."""
        source = Source.DAGSTER_RUN if run_id else Source.NOTIFICATION_FILE
        return cls(
            event_id=event_id_for(
                source=source, job_name=job_name, file_name=file_name, status=status,
                executed_at=executed_at, run_id=run_id,
            ),
            job_name=job_name,
            file_name=file_name,
            status=status,
            executed_at=executed_at,
            vm=vm,
            source=source,
        )

    @property
    def execution_date(self) -> str:
        return self.executed_at.astimezone(dt.UTC).date().isoformat()


def completions_to_arrow(rows: list[Completion], *, logged_at: dt.datetime) -> pa.Table:
    """New `job_status` rows for `rows`: flag `NO`, no attempts yet."""
    n = len(rows)
    return pa.table(
        {
            "event_id": [r.event_id for r in rows],
            "job_name": [r.job_name for r in rows],
            "file_name": [r.file_name for r in rows],
            "status": [r.status.value for r in rows],
            "executed_at": [r.executed_at.astimezone(dt.UTC) for r in rows],
            "execution_date": [r.execution_date for r in rows],
            "logged_at": [logged_at] * n,
            "vm": [r.vm for r in rows],
            "source": [r.source.value for r in rows],
            "autosys_update_flag": [Flag.NO.value] * n,
            "attempts": [0] * n,
            "last_error": pa.nulls(n, pa.string()),
            "updated_at": pa.nulls(n, TIMESTAMP),
            "next_attempt_at": pa.nulls(n, TIMESTAMP),
        },
        schema=SCHEMA,
    )
