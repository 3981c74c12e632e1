"""Dagster wiring for the VM pool: the `run_task` job and the `vm_load_report` asset.

Resources are bound centrally: `vm_pool` and `vm_transport` (see `vm_pool_resources`), and
`job_status_table` for the report.
"""

import datetime as dt
from typing import Any

import dagster as dg

from jobops_dagster.defs.tags import TAG_FILE_NAME, TAG_JOB_NAME, TAG_VM
from jobops_dagster.defs.vm_pool_resources import VMPoolResource, VMTransportResource
from jobops_dagster.job_status.schema import validate_job_name
from jobops_dagster.vm_pool.dispatch import run_on_pool
from jobops_dagster.vm_pool.load import load_report, markdown_chart
from jobops_dagster.vm_pool.probes import IcmpNotPermittedError
from jobops_dagster.vm_pool.selection import NoReachableVMError, Selection


class RunTaskConfig(dg.Config):
    job_name: str
    """The AutoSys job this task belongs to."""
    file_name: str = ""
    """The file the task processes, if any."""
    command: str
    """The shell command to run on the chosen VM."""


def _selection_metadata(selection: Selection) -> dict[str, Any]:
    return {
        "vm": selection.vm.host,
        "cursor": selection.cursor,
        "hosts_tried": ", ".join(selection.hosts_tried) or "(none: forced)",
        "skipped_cooling": ", ".join(selection.skipped_cooling) or "(none)",
        "forced": selection.forced,
        "selection_ms": round(selection.duration_s * 1000, 2),
        "probes": dg.MetadataValue.json(
            [{"host": r.host, "reachable": r.reachable, "rtt_ms": r.rtt_ms, "detail": r.detail}
             for r in selection.results]
        ),
    }


@dg.op(out=dg.Out(str, description="The host the command ran on."))
def run_task_on_vm(
    context: dg.OpExecutionContext, config: RunTaskConfig, vm_pool: VMPoolResource,
    vm_transport: VMTransportResource,
) -> dg.Output[str]:
    """Choose a VM round-robin, run the command there, and fail if it exits non-zero."""
    try:
        validate_job_name(config.job_name)
    except ValueError as e:
        raise dg.Failure(description=str(e)) from e
    wanted = {TAG_JOB_NAME: config.job_name, TAG_FILE_NAME: config.file_name}
    missing = {k: v for k, v in wanted.items() if context.run.tags.get(k) != v}
    if missing:
        context.instance.add_run_tags(context.run_id, missing)

    chosen = {"host": "?"}

    def on_selection(selection: Selection) -> None:
        chosen["host"] = selection.vm.host
        for r in selection.results:
            if r.reachable:
                context.log.info("Probe %s: up, %s, rtt %.3f ms", r.host, r.detail,
                                 r.rtt_ms or 0.0)
            else:
                context.log.info("Probe %s: down, %s", r.host, r.detail)
        context.log.info("Chose VM %s (cursor %d, hosts tried: %s, cooling skipped: %s)",
                         selection.vm.host, selection.cursor, ", ".join(selection.hosts_tried),
                         ", ".join(selection.skipped_cooling) or "none")
        context.instance.add_run_tags(context.run_id, {TAG_VM: selection.vm.host})

    try:
        result = run_on_pool(
            selector=vm_pool.selector(context.instance), transport=vm_transport.transport(),
            command=config.command, on_selection=on_selection,
            on_line=lambda line: context.log.info("[%s] %s", chosen["host"], line),
        )
    except NoReachableVMError as e:
        reasons = {r.host: r.detail for r in e.results}
        raise dg.Failure(description=str(e), metadata={
            "pool": vm_pool.pool_name, "reasons": dg.MetadataValue.json(reasons)}) from e
    except IcmpNotPermittedError as e:
        raise dg.Failure(description=str(e), metadata={"pool": vm_pool.pool_name}) from e
    metadata = _selection_metadata(result.selection) | {
        "exit_code": result.exit_code,
        "refused_ssh": ", ".join(host for host, _ in result.refused) or "(none)",
    }
    if result.exit_code != 0:
        raise dg.Failure(
            description=f"command for job {config.job_name!r} exited with code "
            f"{result.exit_code} on VM {result.selection.vm.host}",
            metadata=metadata,
        )
    context.log.info("Command for job %s finished on %s", config.job_name,
                     result.selection.vm.host)
    return dg.Output(result.selection.vm.host, metadata=metadata)


@dg.job(tags={"jobops/kind": "run_task"})
def run_task() -> None:
    """Run one AutoSys task's command on a VM chosen round-robin from the pool."""
    run_task_on_vm()


class VMLoadReportConfig(dg.Config):
    window_hours: float = 24.0
    """How far back from now the report counts completions."""
    tolerance_pct: float = 10.0
    """The largest gap, in percentage points, between a VM's share and its fair share."""
    min_tasks: int = 20
    """Below this many tasks in the window the spread is not judged."""


@dg.asset(
    deps=[dg.AssetDep("job_status", partition_mapping=dg.AllPartitionMapping())],
    required_resource_keys={"job_status_table", "vm_pool"},
    group_name="vm_pool",
)
def vm_load_report(context: dg.AssetExecutionContext,
                   config: VMLoadReportConfig) -> dg.MaterializeResult:
    """Each VM's share of the tasks that finished in the window, beside its fair share."""
    end = dt.datetime.now(dt.UTC)
    start = end - dt.timedelta(hours=config.window_hours)
    table = context.resources.job_status_table.table().read(columns=["vm", "executed_at"])
    executions = zip(table.column("vm").to_pylist(), table.column("executed_at").to_pylist(),
                     strict=True)
    report = load_report(executions, vms=context.resources.vm_pool.pool_vms(),
                         start=start, end=end)
    context.log.info("VM load over %.1fh: %d tasks on %d VMs, spread %.1f pp", config.window_hours,
                     report.total, len(report.shares), report.spread_pct)
    return dg.MaterializeResult(metadata={
        "chart": dg.MetadataValue.md(markdown_chart(report)),
        "tasks": report.total,
        "unattributed": report.unattributed,
        "spread_pct": report.spread_pct,
        "tolerance_pct": config.tolerance_pct,
        "min_tasks": config.min_tasks,
        "shares": dg.MetadataValue.json({s.host: s.share_pct for s in report.shares}),
        "window_hours": config.window_hours,
    })


@dg.asset_check(asset=vm_load_report)
def vm_load_within_tolerance(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    """Passes when no VM's share of the window is further from fair than the tolerance."""
    event = context.instance.get_latest_materialization_event(vm_load_report.key)
    materialization = event.asset_materialization if event else None
    if materialization is None:
        return dg.AssetCheckResult(passed=False, description="vm_load_report has no "
                                   "materialization yet: materialize it first")
    meta = {k: v.value for k, v in materialization.metadata.items()}
    spread, tolerance = float(meta["spread_pct"]), float(meta["tolerance_pct"])
    tasks, min_tasks = int(meta["tasks"]), int(meta["min_tasks"])
    if tasks < min_tasks:
        return dg.AssetCheckResult(
            passed=True, metadata={"tasks": tasks, "spread_pct": spread},
            description=f"only {tasks} tasks in the window (< {min_tasks}); spread not judged",
        )
    return dg.AssetCheckResult(
        passed=spread <= tolerance,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"tasks": tasks, "spread_pct": spread, "tolerance_pct": tolerance,
                  "shares": dg.MetadataValue.json(meta["shares"])},
        description=f"spread {spread:.1f} pp against a tolerance of {tolerance:.1f} pp",
    )


defs = dg.Definitions(
    assets=[vm_load_report], asset_checks=[vm_load_within_tolerance], jobs=[run_task]
)
