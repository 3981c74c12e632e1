"""Benchmark VM selection against the old sequential selector, in one run.

Run as root: `python benchmarks/bench_vm_selection.py`. It creates its own network namespace
with 5 hosts on veth pairs, 4 of them behind a link that is down so that their probes time
out (1 s), and compares:

- the old selector from the design notes: ping one VM after another from an in-memory index;
- the new selector with a cold cool-down (no failure remembered), and with a warm one.

Then, with 5 loopback VMs that all answer, it reports what one selection costs beyond the
probe itself (the locked read and write of the cursor in a real SQLite-backed instance).
Last, it reports the distribution of 10,000 selections over 5 stand-in VMs, one of them down.
It only ever sends packets to 127.0.0.0/8 and to the namespace it created.
"""

import collections
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import dagster as dg
import icmplib

from jobops_dagster.vm_pool.cursor import PoolStateStore, store_for_instance
from jobops_dagster.vm_pool.hosts import VM
from jobops_dagster.vm_pool.local import stand_in_vms
from jobops_dagster.vm_pool.probes import IcmpProbe, ProbeResult, TcpProbe
from jobops_dagster.vm_pool.selection import SelectionPolicy, Selector
from jobops_dagster_tests.vm_pool import netns

TIMEOUT_S = 1.0
OLD_ROUNDS = 5
COLD_ROUNDS = 5
WARM_ROUNDS = 20
OVERHEAD_ROUNDS = 300
DISTRIBUTION_ROUNDS = 10_000


class OldSelector:
    """The design notes' selector: an in-memory index, one ping after another."""

    def __init__(self, hosts: Sequence[str]) -> None:
        self.hosts = list(hosts)
        self.index = 0

    def next_vm(self) -> str | None:
        for _ in self.hosts:
            host = self.hosts[self.index]
            self.index = (self.index + 1) % len(self.hosts)
            if icmplib.ping(host, count=1, timeout=TIMEOUT_S, privileged=True).is_alive:
                return host
        return None


def timed(action: Callable[[], object], rounds: int) -> list[float]:
    durations = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        durations.append(time.perf_counter() - started)
    return durations


def new_selector(vms: Sequence[VM], store: PoolStateStore, probe: Callable[[VM], ProbeResult],
                 *, fail_timeout_s: float = 300.0) -> Selector:
    return Selector(pool="bench", vms=vms, probe=probe, store=store,
                    policy=SelectionPolicy(fail_timeout_s=fail_timeout_s,
                                           probe_deadline_s=TIMEOUT_S + 0.05))


def forget_failures(store: PoolStateStore) -> None:
    with store.transaction() as txn:
        state = txn.load()
        txn.save(type(state)(seq=state.seq, current=state.current, failed_until={}))


def bench_timeouts(instance: dg.DagsterInstance) -> None:
    with netns.namespace_hosts(up=1, down=4) as hosts:
        order = [hosts.down[0], hosts.down[1], hosts.up[0], hosts.down[2], hosts.down[3]]
        print(f"5 VMs in namespace {hosts.namespace}, only {hosts.up[0]} answers; "
              f"ICMP timeout {TIMEOUT_S:g}s")
        old = OldSelector(order)
        old_s = timed(old.next_vm, OLD_ROUNDS)
        store = store_for_instance(instance, pool="bench-timeouts")
        selector = new_selector([VM(host=h) for h in order], store,
                                IcmpProbe(timeout_s=TIMEOUT_S, mode="raw"))

        def cold() -> None:
            forget_failures(store)
            selector.select()

        cold_s = timed(cold, COLD_ROUNDS)
        warm_s = timed(selector.select, WARM_ROUNDS)
    old_mean, cold_mean, warm_mean = (statistics.mean(d) for d in (old_s, cold_s, warm_s))
    print(f"  old sequential selector : mean {old_mean * 1000:8.1f} ms over {OLD_ROUNDS} "
          f"selections ({', '.join(f'{d:.2f}s' for d in old_s)})")
    print(f"  new, cold cool-down     : mean {cold_mean * 1000:8.1f} ms over {COLD_ROUNDS} "
          f"selections -> {old_mean / cold_mean:5.1f}x faster (target >= 3x)")
    print(f"  new, warm cool-down     : mean {warm_mean * 1000:8.1f} ms over {WARM_ROUNDS} "
          f"selections -> {old_mean / warm_mean:5.1f}x faster (target >= 10x)")


class TimedProbe:
    def __init__(self, probe: Callable[[VM], ProbeResult]) -> None:
        self.probe = probe
        self.spent = 0.0

    def __call__(self, vm: VM) -> ProbeResult:
        started = time.perf_counter()
        try:
            return self.probe(vm)
        finally:
            self.spent += time.perf_counter() - started


def bench_all_up(instance: dg.DagsterInstance) -> None:
    vms = [VM(host=f"127.0.0.{i}") for i in range(101, 106)]
    probe = TimedProbe(IcmpProbe(timeout_s=TIMEOUT_S, mode="raw"))
    selector = new_selector(vms, store_for_instance(instance, pool="bench-up"), probe)
    overheads, probes = [], []
    for _ in range(OVERHEAD_ROUNDS):
        probe.spent = 0.0
        started = time.perf_counter()
        selector.select()
        overheads.append(time.perf_counter() - started - probe.spent)
        probes.append(probe.spent)
    p95 = statistics.quantiles(overheads, n=20)[-1]
    print(f"5 loopback VMs, all up, ICMP, cursor in a SQLite instance ({OVERHEAD_ROUNDS} "
          "selections):")
    print(f"  probe itself            : median {statistics.median(probes) * 1000:6.3f} ms")
    print(f"  selection beyond probe  : median {statistics.median(overheads) * 1000:6.3f} ms, "
          f"p95 {p95 * 1000:6.3f} ms")
    print("    (the lock, the KV read and write, the ordering and the probe thread pool)")


def bench_distribution(instance: dg.DagsterInstance) -> None:
    with stand_in_vms(count=5, down=1, first_address=111) as pool:
        selector = new_selector(pool.vms, store_for_instance(instance, pool="bench-spread"),
                                TcpProbe(timeout_s=TIMEOUT_S), fail_timeout_s=30.0)
        started = time.perf_counter()
        counts = collections.Counter(
            selector.select().vm.host for _ in range(DISTRIBUTION_ROUNDS)
        )
        elapsed = time.perf_counter() - started
    up = len(pool.vms) - len(pool.down)
    fair = DISTRIBUTION_ROUNDS / up
    print(f"Distribution over {DISTRIBUTION_ROUNDS:,} selections ({elapsed:.1f}s):")
    print(f"  5 stand-in VMs, equal weights, TCP probes, {pool.down[0]} down (refuses)")
    for vm in pool.vms:
        n = counts[vm.host]
        gap = "down" if vm.host in pool.down else f"{(n - fair) / fair * 100:+.2f}% from fair"
        print(f"  {vm.host:<12} {n:6d}  {100 * n / DISTRIBUTION_ROUNDS:5.1f}%  ({gap})")


def main() -> int:
    reason = netns.unavailable_reason()
    if reason:
        print(f"bench_vm_selection skipped: {reason}", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as root:
        # An empty dagster.yaml: SQLite storage under root, without Dagster's notice about it.
        (Path(root) / "dagster.yaml").write_text("", encoding="utf-8")
        with dg.DagsterInstance.local_temp(root) as instance:
            bench_timeouts(instance)
            bench_all_up(instance)
            bench_distribution(instance)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
