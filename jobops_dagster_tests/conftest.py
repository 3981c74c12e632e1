"""Fixtures every test package shares: a real job_status Delta table under tmp_path."""

from pathlib import Path

import pytest

from jobops_dagster.job_status.table import JobStatusTable


@pytest.fixture
def table_url(tmp_path: Path) -> str:
    return str(tmp_path / "job_status")


@pytest.fixture
def table(table_url: str) -> JobStatusTable:
    return JobStatusTable(table_url)
