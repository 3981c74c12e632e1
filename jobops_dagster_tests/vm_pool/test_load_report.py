"""The load report: shares and spread in plain Python, then `vm_load_report` and its check
materialized against a real `job_status` Delta table under tmp_path."""

import datetime as dt
import pathlib

import dagster as dg
from dagster_deltalake import LocalConfig

from jobops_dagster import definitions
from jobops_dagster.defs.resources import JobStatusTableResource
from jobops_dagster.defs.vm_pool import vm_load_report, vm_load_within_tolerance
from jobops_dagster.defs.vm_pool_resources import VMPoolResource
from jobops_dagster.job_status.schema import Completion, Source, Status
from jobops_dagster.job_status.table import JobStatusTable
from jobops_dagster.vm_pool.hosts import parse_vms
from jobops_dagster.vm_pool.load import load_report, markdown_chart

NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)


def test_load_report_counts_window_only_and_measures_gap_to_weighted_fair_share() -> None:
    hour = dt.timedelta(hours=1)
    rows = [("a", NOW - hour)] * 6 + [("b", NOW - hour)] * 4 + [("b", NOW - 30 * hour)] * 9
    rows += [(None, NOW - hour), ("old-vm", NOW - hour)]
    report = load_report(rows, vms=parse_vms("a*2,b,c"), start=NOW - 24 * hour, end=NOW)
    shares = {s.host: (s.tasks, round(s.share_pct, 1), s.fair_pct) for s in report.shares}
    assert shares == {"a": (6, 54.5, 50.0), "b": (4, 36.4, 25.0), "c": (0, 0.0, 25.0),
                      "old-vm": (1, 9.1, 0.0)}
    assert (report.total, report.unattributed) == (11, 1)
    assert round(report.spread_pct, 1) == 25.0


def test_markdown_chart_has_a_row_and_bar_per_vm() -> None:
    report = load_report([("a", NOW)] * 4 + [("b", NOW)] * 2, vms=parse_vms("a,b"),
                         start=NOW - dt.timedelta(hours=1), end=NOW + dt.timedelta(seconds=1))
    chart = markdown_chart(report)
    assert "| `a` | 4 | 66.7% | 50.0% | " + "█" * 30 + " |" in chart
    assert "| `b` | 2 | 33.3% | 50.0% | " + "█" * 15 + " |" in chart


def _write_rows(url: str, per_vm: dict[str, int]) -> None:
    now = dt.datetime.now(dt.UTC)
    rows = [
        Completion(event_id=f"{vm}-{i}", job_name="JOB_A", file_name=None,
                   status=Status.SUCCESS, executed_at=now - dt.timedelta(minutes=i + 1),
                   vm=vm, source=Source.DAGSTER_RUN)
        for vm, count in per_vm.items() for i in range(count)
    ]
    JobStatusTable(url).insert_missing(rows, now=now)


def _materialize(tmp_path: pathlib.Path, per_vm: dict[str, int]) -> dg.ExecuteInProcessResult:
    url = str(tmp_path / "job_status")
    _write_rows(url, per_vm)
    (tmp_path / "dagster").mkdir()
    with dg.DagsterInstance.local_temp(tempdir=str(tmp_path / "dagster")) as instance:
        return dg.materialize(
            [vm_load_report, vm_load_within_tolerance], instance=instance,
            resources={
                "job_status_table": JobStatusTableResource(url=url, storage_options=LocalConfig()),
                "vm_pool": VMPoolResource(vms="vm1,vm2,vm3"),
            },
            run_config={"ops": {"vm_load_report": {"config": {"min_tasks": 10}}}},
        )


def test_vm_load_report_even_spread_passes_check_with_chart(tmp_path: pathlib.Path) -> None:
    result = _materialize(tmp_path, {"vm1": 10, "vm2": 10, "vm3": 9})
    materialization = result.asset_materializations_for_node("vm_load_report")[0]
    assert materialization.metadata["tasks"].value == 29
    assert "| `vm3` | 9 |" in str(materialization.metadata["chart"].value)
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.passed


def test_vm_load_report_uneven_spread_fails_check(tmp_path: pathlib.Path) -> None:
    result = _materialize(tmp_path, {"vm1": 28, "vm2": 1, "vm3": 1})
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.metadata["spread_pct"].value > 50


def test_definitions_resolve_run_task_and_report_downstream_of_job_status() -> None:
    dg.Definitions.validate_loadable(definitions.defs)
    assert definitions.defs.resolve_job_def("run_task").name == "run_task"
    deps = definitions.defs.resolve_asset_graph().get(vm_load_report.key).parent_keys
    assert deps == {dg.AssetKey("job_status")}
