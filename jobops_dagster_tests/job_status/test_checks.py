"""The job_status asset checks, run by Dagster against a real table: they pass on what
ingestion writes and fail on rows that break the table's rules."""

from typing import Any

import dagster as dg
from deltalake import write_deltalake

from jobops_dagster.defs.job_status import (
    event_ids_are_unique,
    job_status,
    status_and_flag_values_are_valid,
)
from jobops_dagster.job_status.notifications import NotificationFolder
from jobops_dagster.job_status.table import JobStatusTable
from jobops_dagster_tests.job_status.support import TODAY, drop

CHECKS = [event_ids_are_unique, status_and_flag_values_are_valid]


def checks_after_backfill(
    instance: dg.DagsterInstance, resources: dict[str, Any]
) -> dict[str, dg.AssetCheckEvaluation]:
    result = dg.materialize(
        [job_status, *CHECKS], partition_key=TODAY, instance=instance, resources=resources
    )
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_checks_pass_on_ingested_rows(
    instance: dg.DagsterInstance, resources: dict[str, Any], folder: NotificationFolder
) -> None:
    drop(folder, "a.json")
    drop(folder, "b.json", status="failure")
    evaluations = checks_after_backfill(instance, resources)
    assert set(evaluations) == {"event_ids_are_unique", "status_and_flag_values_are_valid"}
    assert all(e.passed for e in evaluations.values())
    assert evaluations["event_ids_are_unique"].metadata["rows"].value == 2


def test_checks_fail_on_duplicate_ids_and_unknown_values(
    instance: dg.DagsterInstance, resources: dict[str, Any], folder: NotificationFolder,
    table: JobStatusTable, table_url: str,
) -> None:
    drop(folder, "a.json")
    checks_after_backfill(instance, resources)
    stored = table.read()
    broken = stored.set_column(
        stored.schema.get_field_index("autosys_update_flag"), "autosys_update_flag",
        [["MAYBE"]],
    ).set_column(stored.schema.get_field_index("status"), "status", [["done"]])
    # A writer that bypasses JobStatusTable: a blind append of a row that is already there.
    write_deltalake(table_url, broken, mode="append")

    evaluations = checks_after_backfill(instance, resources)

    unique = evaluations["event_ids_are_unique"]
    assert not unique.passed
    assert unique.metadata["duplicated_event_ids"].value == 1
    values = evaluations["status_and_flag_values_are_valid"]
    assert not values.passed
    assert values.metadata["invalid_status"].value == 1
    assert values.metadata["invalid_flag"].value == 1
