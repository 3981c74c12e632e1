"""Smooth weighted round robin over the VMs that answer a probe, with a failure cool-down.

The order follows nginx's smooth weighted round robin. Each VM carries a running weight
`current`. A selection ranks the VMs by `current + weight`, highest first, ties going to the
one listed first. That ranking is the probe order, and the first VM in it that answers wins.
The winning VM is the one smooth weighted round robin would pick among the VMs still
considered live, so the commit is the usual step over that set: every live VM gains its
weight, and the winner loses the live total. With equal weights this is plain round robin in
list order, skipping dead VMs without handing their turns to the next VM in line.

A VM that fails a probe is skipped for `fail_timeout_s` (nginx's `fail_timeout`, with
`max_fails=1`) and probed again once that has passed, or earlier if every other VM fails.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Literal

from jobops_dagster.vm_pool.cursor import PoolState, PoolStateStore
from jobops_dagster.vm_pool.hosts import VM
from jobops_dagster.vm_pool.probes import Probe, ProbeResult, probe_in_order

log = logging.getLogger(__name__)

Fallback = Literal["fail", "wait_and_retry", "next_anyway"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class SelectionPolicy:
    """How long failures are remembered and what to do when no VM answers."""

    fail_timeout_s: float = 30.0
    fallback: Fallback = "fail"
    retry_wait_s: float = 10.0
    retry_rounds: int = 3
    hedge_after_s: float = 0.05
    probe_deadline_s: float | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Selection:
    """The VM chosen for one task, and everything probed on the way there."""

    vm: VM
    cursor: int
    results: tuple[ProbeResult, ...]
    skipped_cooling: tuple[str, ...]
    forced: bool
    duration_s: float

    @property
    def hosts_tried(self) -> tuple[str, ...]:
        return tuple(r.host for r in self.results)


class NoReachableVMError(RuntimeError):
    """No VM in the pool answered; the message names every host and why."""

    def __init__(self, *, pool: str, results: Sequence[ProbeResult], rounds: int) -> None:
        self.pool = pool
        self.results = tuple(results)
        reasons = "; ".join(f"{r.host}: {r.detail}" for r in results)
        super().__init__(
            f"no VM in pool {pool!r} is reachable after {rounds} probe round(s) ({reasons}). "
            "Check that the VMs are up and that the probe method and port fit the network "
            "(ICMP is often blocked: try the 'tcp' probe), or configure a fallback."
        )


def preference_order(state: PoolState, vms: Sequence[VM]) -> list[VM]:
    """`vms` in the order this selection should try them."""
    ranked = sorted(
        enumerate(vms), key=lambda iv: (-(state.current.get(iv[1].host, 0) + iv[1].weight), iv[0])
    )
    return [vm for _, vm in ranked]


def commit(state: PoolState, *, chosen: VM, live: Sequence[VM]) -> PoolState:
    """The state after one smooth weighted round-robin step over `live` that picked `chosen`."""
    current = dict(state.current)
    total = sum(vm.weight for vm in live)
    for vm in live:
        current[vm.host] = current.get(vm.host, 0) + vm.weight
    current[chosen.host] = current.get(chosen.host, 0) - total
    return dataclasses.replace(state, seq=state.seq + 1, current=current)


def note_results(
    state: PoolState, results: Sequence[ProbeResult], *, now: float, fail_timeout_s: float
) -> PoolState:
    """`state` with a cool-down started for each failed probe and cleared for each success."""
    failed_until = dict(state.failed_until)
    for r in results:
        if r.reachable:
            failed_until.pop(r.host, None)
        else:
            failed_until[r.host] = now + fail_timeout_s
    return dataclasses.replace(state, failed_until=failed_until)


class Selector:
    """Chooses VMs from one pool; every choice goes through the shared, locked state."""

    def __init__(
        self, *, pool: str, vms: Sequence[VM], probe: Probe, store: PoolStateStore,
        policy: SelectionPolicy, clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.pool = pool
        self.vms = tuple(vms)
        self._probe = probe
        self._store = store
        self._policy = policy
        self._clock = clock
        self._sleep = sleep

    def select(self, *, exclude: frozenset[str] = frozenset()) -> Selection:
        """The next VM to use, skipping the hosts in `exclude` (e.g. ones that refused SSH)."""
        started = time.perf_counter()
        candidates = [vm for vm in self.vms if vm.host not in exclude]
        if not candidates:
            raise NoReachableVMError(pool=self.pool, results=[], rounds=0)
        retrying = self._policy.fallback == "wait_and_retry"
        rounds = 1 + (self._policy.retry_rounds if retrying else 0)
        results: list[ProbeResult] = []
        for round_no in range(1, rounds + 1):
            if round_no > 1:
                log.warning(
                    "No VM of pool %s answered; probing again in %.1fs (round %d of %d)",
                    self.pool, self._policy.retry_wait_s, round_no, rounds,
                )
                self._sleep(self._policy.retry_wait_s)
            selection, results = self._one_round(candidates, started=started)
            if selection is not None:
                return selection
        raise NoReachableVMError(pool=self.pool, results=results, rounds=rounds)

    def report_failure(self, vm: VM, *, reason: str) -> None:
        """Start `vm`'s cool-down after a failure seen outside the probe, such as SSH refusal."""
        failure = ProbeResult(host=vm.host, reachable=False, rtt_ms=None, detail=reason,
                              method="dispatch")
        with self._store.transaction() as txn:
            txn.save(note_results(txn.load(), [failure], now=self._clock(),
                                  fail_timeout_s=self._policy.fail_timeout_s))

    def _one_round(
        self, candidates: list[VM], *, started: float
    ) -> tuple[Selection | None, list[ProbeResult]]:
        # The lock spans the probes so that the commit matches what the probes found; a round
        # holds it for at most about one probe timeout, since the probes run in parallel.
        with self._store.transaction() as txn:
            state = txn.load()
            now = self._clock()
            order = preference_order(state, candidates)
            warm = [vm for vm in order if state.failed_until.get(vm.host, 0.0) <= now]
            cooling = [vm for vm in order if vm not in warm]
            probe_all = functools.partial(
                probe_in_order, probe=self._probe, hedge_after_s=self._policy.hedge_after_s,
                deadline_s=self._policy.probe_deadline_s,
            )
            results, chosen = probe_all(warm)
            if chosen is None and cooling:
                log.warning("Every warm VM of pool %s failed; probing the cooling ones: %s",
                            self.pool, ", ".join(vm.host for vm in cooling))
                more, chosen = probe_all(cooling)
                results += more
                cooling = []
            state = note_results(state, results, now=now,
                                 fail_timeout_s=self._policy.fail_timeout_s)
            forced = chosen is None and self._policy.fallback == "next_anyway"
            if forced:
                chosen = order[0]
                log.warning("No VM of pool %s answered; using %s anyway", self.pool, chosen.host)
            if chosen is None:
                txn.save(state)
                return None, results
            failed = {r.host for r in results if not r.reachable}
            # A forced choice moves the round robin on as if every VM had answered.
            live = order if forced else [
                vm for vm in order if vm not in cooling and vm.host not in failed
            ]
            txn.save(commit(state, chosen=chosen, live=live))
        return Selection(
            vm=chosen, cursor=state.seq, results=tuple(results),
            skipped_cooling=tuple(vm.host for vm in cooling), forced=forced,
            duration_s=time.perf_counter() - started,
        ), results
