"""Round-robin order, smooth weights, cool-down and fallbacks of the selector.

These are unit tests: probes are injected functions (a table of which hosts are up, or a
sleep standing in for a timeout) and the state sits in `memory_store`, so each rule is seen
on its own. Real probes and a real instance are exercised in the other test modules.
"""

import collections
import threading
import time
from collections.abc import Iterable

import pytest

from jobops_dagster.vm_pool.cursor import PoolStateStore
from jobops_dagster.vm_pool.hosts import VM, parse_vms
from jobops_dagster.vm_pool.probes import ProbeResult
from jobops_dagster.vm_pool.selection import NoReachableVMError, SelectionPolicy, Selector


class TableProbe:
    """Up when the host is not in `down`; records each host probed."""

    def __init__(self, down: Iterable[str] = ()) -> None:
        self.down = set(down)
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, vm: VM) -> ProbeResult:
        with self._lock:
            self.calls.append(vm.host)
        up = vm.host not in self.down
        return ProbeResult(host=vm.host, reachable=up, rtt_ms=0.1 if up else None,
                           detail="up" if up else "injected: down", method="table")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def make_selector(
    store: PoolStateStore, spec: str, probe: TableProbe, *, clock: Clock | None = None,
    **policy: object,
) -> Selector:
    return Selector(pool="test", vms=parse_vms(spec), probe=probe, store=store,
                    policy=SelectionPolicy(hedge_after_s=0.0, **policy),  # type: ignore[arg-type]
                    clock=clock or Clock(), sleep=lambda _: None)


def picks(selector: Selector, n: int) -> list[str]:
    return [selector.select().vm.host for _ in range(n)]


def test_select_equal_weights_all_up_is_round_robin_in_list_order(
    memory_store: PoolStateStore,
) -> None:
    selector = make_selector(memory_store, "a,b,c", TableProbe())
    assert picks(selector, 7) == ["a", "b", "c", "a", "b", "c", "a"]


def test_select_dead_vm_skipped_without_doubling_the_next_vms_turns(
    memory_store: PoolStateStore,
) -> None:
    selector = make_selector(memory_store, "a,b,c,d", TableProbe(down={"b"}))
    chosen = picks(selector, 300)
    assert collections.Counter(chosen) == {"a": 100, "c": 100, "d": 100}
    assert all(sorted(chosen[i : i + 3]) == ["a", "c", "d"] for i in range(0, 300, 3))


def test_select_cursor_counts_each_selection_once(memory_store: PoolStateStore) -> None:
    selector = make_selector(memory_store, "a,b", TableProbe(down={"a"}))
    assert [selector.select().cursor for _ in range(4)] == [0, 1, 2, 3]


def test_select_weights_5_1_1_gives_nginx_smooth_sequence(memory_store: PoolStateStore) -> None:
    selector = make_selector(memory_store, "a*5,b,c", TableProbe())
    assert picks(selector, 7) == ["a", "a", "b", "a", "c", "a", "a"]


def test_select_weights_over_many_selections_match_weight_shares(
    memory_store: PoolStateStore,
) -> None:
    selector = make_selector(memory_store, "a*3,b*2,c", TableProbe())
    assert collections.Counter(picks(selector, 600)) == {"a": 300, "b": 200, "c": 100}


def test_select_failed_vm_skipped_during_cool_down_then_probed_again(
    memory_store: PoolStateStore,
) -> None:
    probe, clock = TableProbe(down={"a"}), Clock()
    selector = make_selector(memory_store, "a,b,c", probe, clock=clock, fail_timeout_s=30)
    first = selector.select()
    assert (first.vm.host, first.hosts_tried) == ("b", ("a", "b", "c"))
    probe.calls.clear()
    clock.now += 10
    second = selector.select()
    assert second.skipped_cooling == ("a",)
    assert "a" not in probe.calls
    probe.down.clear()
    clock.now += 25
    assert selector.select().vm.host == "a"


def test_select_every_warm_vm_down_probes_cooling_vms_too(memory_store: PoolStateStore) -> None:
    probe, clock = TableProbe(down={"a"}), Clock()
    selector = make_selector(memory_store, "a,b", probe, clock=clock, fail_timeout_s=60)
    assert selector.select().vm.host == "b"
    probe.down = {"b"}
    clock.now += 1
    assert selector.select().vm.host == "a"


def test_select_nothing_reachable_names_every_host_and_reason(
    memory_store: PoolStateStore,
) -> None:
    selector = make_selector(memory_store, "a,b,c", TableProbe(down={"a", "b", "c"}))
    with pytest.raises(NoReachableVMError) as caught:
        selector.select()
    message = str(caught.value)
    for host in ("a", "b", "c"):
        assert f"{host}: injected: down" in message
    assert "fallback" in message


def test_select_fallback_next_anyway_uses_first_in_order_and_advances(
    memory_store: PoolStateStore,
) -> None:
    selector = make_selector(memory_store, "a,b,c", TableProbe(down={"a", "b", "c"}),
                             fallback="next_anyway")
    first, second = selector.select(), selector.select()
    assert (first.vm.host, first.forced) == ("a", True)
    assert second.vm.host == "b"


def test_select_fallback_wait_and_retry_succeeds_when_a_vm_comes_back(
    memory_store: PoolStateStore,
) -> None:
    probe = TableProbe(down={"a", "b"})
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        probe.down.discard("b")

    selector = Selector(pool="test", vms=parse_vms("a,b"), probe=probe, store=memory_store,
                        policy=SelectionPolicy(fallback="wait_and_retry", retry_wait_s=7,
                                               retry_rounds=2, hedge_after_s=0.0),
                        sleep=sleep)
    assert selector.select().vm.host == "b"
    assert waits == [7]


def test_select_fallback_wait_and_retry_gives_up_after_its_rounds(
    memory_store: PoolStateStore,
) -> None:
    selector = make_selector(memory_store, "a", TableProbe(down={"a"}),
                             fallback="wait_and_retry", retry_rounds=2)
    with pytest.raises(NoReachableVMError, match="after 3 probe round"):
        selector.select()


def test_select_excluded_hosts_are_not_probed(memory_store: PoolStateStore) -> None:
    probe = TableProbe()
    selector = make_selector(memory_store, "a,b,c", probe)
    assert selector.select(exclude=frozenset({"a"})).vm.host == "b"
    assert "a" not in probe.calls


def test_select_dead_vms_probed_in_parallel_costs_one_timeout_and_keeps_order(
    memory_store: PoolStateStore,
) -> None:
    def probe(vm: VM) -> ProbeResult:
        delay = {"a": 0.4, "b": 0.4, "c": 0.3, "d": 0.0}[vm.host]
        time.sleep(delay)
        up = vm.host in {"c", "d"}
        return ProbeResult(host=vm.host, reachable=up, rtt_ms=delay * 1000,
                           detail="slept", method="sleep")

    selector = Selector(pool="test", vms=parse_vms("a,b,c,d"), probe=probe, store=memory_store,
                        policy=SelectionPolicy(hedge_after_s=0.0))
    started = time.perf_counter()
    selection = selector.select()
    elapsed = time.perf_counter() - started
    assert selection.vm.host == "c", "the earlier VM in order wins over the faster one"
    assert elapsed < 0.7, f"two dead VMs of 0.4 s each took {elapsed:.2f}s in all"


def test_select_probe_past_its_deadline_counts_as_failed(memory_store: PoolStateStore) -> None:
    def probe(vm: VM) -> ProbeResult:
        if vm.host == "a":
            time.sleep(1.0)
        return ProbeResult(host=vm.host, reachable=True, rtt_ms=0.1, detail="up", method="sleep")

    selector = Selector(pool="test", vms=parse_vms("a,b"), probe=probe, store=memory_store,
                        policy=SelectionPolicy(hedge_after_s=0.0, probe_deadline_s=0.2))
    selection = selector.select()
    assert selection.vm.host == "b"
    assert selection.results[0].detail == "probe still unanswered after its 0.2s deadline"
    assert selection.duration_s < 0.6
