"""How the tasks of a time window spread over the pool's VMs, and whether that is fair.

A VM's fair share is its weight over the pool's total weight. The spread is the largest gap,
in percentage points, between a VM's share of the window's tasks and its fair share.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence

from jobops_dagster.vm_pool.hosts import VM

_BAR_WIDTH = 30


@dataclasses.dataclass(frozen=True, kw_only=True)
class VMShare:
    host: str
    tasks: int
    share_pct: float
    fair_pct: float


@dataclasses.dataclass(frozen=True, kw_only=True)
class LoadReport:
    """Tasks per VM in `[start, end)`; `unattributed` counts completions with no VM."""

    start: dt.datetime
    end: dt.datetime
    shares: tuple[VMShare, ...]
    total: int
    unattributed: int

    @property
    def spread_pct(self) -> float:
        pooled = [s for s in self.shares if s.fair_pct > 0]
        if self.total == 0 or not pooled:
            return 0.0
        return max(abs(s.share_pct - s.fair_pct) for s in pooled)


def load_report(
    executions: Iterable[tuple[str | None, dt.datetime]], *, vms: Sequence[VM],
    start: dt.datetime, end: dt.datetime,
) -> LoadReport:
    """Count `(vm, executed_at)` pairs inside the window per VM of the pool, and any others."""
    counts: collections.Counter[str] = collections.Counter()
    unattributed = 0
    for host, executed_at in executions:
        if not start <= executed_at < end:
            continue
        if host is None:
            unattributed += 1
        else:
            counts[host] += 1
    total = sum(counts.values())
    weight_total = sum(vm.weight for vm in vms)
    hosts = [vm.host for vm in vms] + sorted(set(counts) - {vm.host for vm in vms})
    weights = {vm.host: vm.weight for vm in vms}
    shares = tuple(
        VMShare(
            host=host,
            tasks=counts[host],
            share_pct=100.0 * counts[host] / total if total else 0.0,
            fair_pct=100.0 * weights.get(host, 0) / weight_total,
        )
        for host in hosts
    )
    return LoadReport(start=start, end=end, shares=shares, total=total,
                      unattributed=unattributed)


def markdown_chart(report: LoadReport) -> str:
    """A markdown table with one bar per VM, scaled to the busiest VM."""
    most = max((s.tasks for s in report.shares), default=0) or 1
    lines = [
        f"Tasks from {report.start:%Y-%m-%d %H:%M} to {report.end:%Y-%m-%d %H:%M} UTC: "
        f"{report.total}, spread {report.spread_pct:.1f} pp from fair share",
        "",
        "| VM | tasks | share | fair share | load |",
        "|---|---:|---:|---:|---|",
    ]
    for s in report.shares:
        bar = "█" * round(_BAR_WIDTH * s.tasks / most)
        lines.append(
            f"| `{s.host}` | {s.tasks} | {s.share_pct:.1f}% | {s.fair_pct:.1f}% | {bar} |"
        )
    if report.unattributed:
        lines.append(f"| (no VM recorded) | {report.unattributed} | | | |")
    return "\n".join(lines)
