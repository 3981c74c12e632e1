"""Fixtures for the job_status tests: a real Delta table and notification folder under
tmp_path, and a real (temporary) Dagster instance."""

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_deltalake import LocalConfig

from jobops_dagster.defs.resources import JobStatusTableResource, NotificationFolderResource
from jobops_dagster.job_status.notifications import NotificationFolder


@pytest.fixture
def folder(tmp_path: Path) -> NotificationFolder:
    return NotificationFolder(tmp_path / "notifications", min_age=dt.timedelta(0))


@pytest.fixture
def resources(table_url: str, folder: NotificationFolder) -> dict[str, Any]:
    return {
        "job_status_table": JobStatusTableResource(
            url=table_url, storage_options=LocalConfig()
        ),
        "notification_folder": NotificationFolderResource(
            path=str(folder.root), min_age_seconds=0
        ),
    }


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance
