"""Resources shared by the Dagster definitions, named after the system each one reaches."""

import datetime as dt
import os

import dagster as dg
from dagster_deltalake import AzureConfig, DeltaTableResource, LocalConfig, S3Config
from pydantic import Field

from jobops_dagster import settings
from jobops_dagster.job_status.notifications import NotificationFolder
from jobops_dagster.job_status.table import JobStatusTable


class JobStatusTableResource(DeltaTableResource):
    """The `job_status` Delta table; `url` and `storage_options` as in dagster-deltalake."""

    def table(self) -> JobStatusTable:
        # Not str_dict(): it calls pydantic's deprecated dict(), and warnings are errors here.
        options: dict[str, str] = {}
        for config in (self.storage_options, self.client_options):
            if config is not None:
                values = config.model_dump(exclude_none=True, exclude={"provider"})
                options |= {key: str(value) for key, value in values.items()}
        return JobStatusTable(self.url, storage_options=options)


class NotificationFolderResource(dg.ConfigurableResource):
    """The folder completion notifications are dropped into."""

    path: str = Field(description="Folder writers drop `*.json` notifications into.")
    min_age_seconds: float = Field(
        default=2.0, description="Files younger than this wait for a later tick."
    )
    max_files_per_tick: int = Field(
        default=5_000, description="At most this many files are planned into runs per tick."
    )

    def folder(self) -> NotificationFolder:
        return NotificationFolder(self.path, min_age=dt.timedelta(seconds=self.min_age_seconds))


def job_status_table_from_env() -> JobStatusTableResource:
    """The table at JOBOPS_JOB_STATUS_URL, on local disk unless the URL names a cloud store."""
    url = settings.job_status_url()
    return JobStatusTableResource(url=url, storage_options=storage_options_for(url))


def storage_options_for(url: str) -> LocalConfig | S3Config | AzureConfig:
    """Storage config by URL scheme. Credentials stay in the environment, where delta-rs reads
    them itself (AWS_* for S3, AZURE_STORAGE_* for ADLS), so they never enter run config."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else "file"
    if scheme in ("s3", "s3a"):
        return S3Config()
    if scheme in ("az", "abfs", "abfss", "adl", "azure"):
        account = os.environ.get("AZURE_STORAGE_ACCOUNT_NAME")
        if not account:
            raise ValueError(
                f"JOBOPS_JOB_STATUS_URL {url!r} is on Azure storage, but "
                "AZURE_STORAGE_ACCOUNT_NAME is not set; set it to the storage account name"
            )
        return AzureConfig(account_name=account)
    return LocalConfig()


def notification_folder_from_env() -> NotificationFolderResource:
    return NotificationFolderResource(path=settings.notification_dir())
