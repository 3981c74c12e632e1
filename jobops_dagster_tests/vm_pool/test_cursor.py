"""The cursor in a real Dagster instance on disk: its key, restarts, and concurrent processes.

The concurrency test starts 8 processes that each open the same instance directory and make
100 selections over 5 stand-in VMs (real TCP listeners on 127.0.0.x), all starting together
at a barrier. Without the lock, the read-increment-write on the key-value store loses
updates and hands out a cursor twice.
"""

import collections
import multiprocessing
import pathlib

import dagster as dg
import pytest

from jobops_dagster.vm_pool.cursor import PoolState, cursor_key, store_for_instance
from jobops_dagster.vm_pool.local import stand_in_vms
from jobops_dagster.vm_pool.probes import TcpProbe
from jobops_dagster.vm_pool.selection import SelectionPolicy, Selector
from jobops_dagster_tests.vm_pool.workers import select_many


def test_pool_state_json_round_trips() -> None:
    state = PoolState(seq=3, current={"a": -1, "b": 1}, failed_until={"b": 12.5})
    assert PoolState.from_json(state.to_json(), key="k") == state


def test_pool_state_unreadable_value_says_which_key_to_delete() -> None:
    with pytest.raises(ValueError, match=r"under key 'jobops/vm_pool/x/cursor'.*Delete the key"):
        PoolState.from_json('{"v": 9}', key=cursor_key("x"))


def test_cursor_survives_instance_restart_and_continues_round_robin(
    tmp_path: pathlib.Path,
) -> None:
    with stand_in_vms(count=3, down=0, first_address=41) as pool:
        def selections(n: int) -> list[tuple[int, str]]:
            with dg.DagsterInstance.local_temp(tempdir=str(tmp_path)) as instance:
                selector = Selector(pool="restart", vms=pool.vms, probe=TcpProbe(timeout_s=1),
                                    store=store_for_instance(instance, pool="restart"),
                                    policy=SelectionPolicy())
                return [(s.cursor, s.vm.host) for s in (selector.select() for _ in range(n))]

        before, after = selections(2), selections(2)
    hosts = [vm.host for vm in pool.vms]
    assert before + after == [(0, hosts[0]), (1, hosts[1]), (2, hosts[2]), (3, hosts[0])]
    with dg.DagsterInstance.local_temp(tempdir=str(tmp_path)) as instance:
        stored = instance.run_storage.get_cursor_values({"jobops/vm_pool/restart/cursor"})
    assert PoolState.from_json(stored["jobops/vm_pool/restart/cursor"], key="k").seq == 4


def test_cursor_lock_file_sits_beside_the_instance_storage(tmp_path: pathlib.Path) -> None:
    with dg.DagsterInstance.local_temp(tempdir=str(tmp_path)) as instance:
        store = store_for_instance(instance, pool="p")
        with store.transaction():
            assert (tmp_path / "vm_pool" / "p.lock").exists()


def test_select_8_processes_x_100_no_cursor_reused_and_fair_shares(
    tmp_path: pathlib.Path,
) -> None:
    processes, per_process, vm_count = 8, 100, 5
    with dg.DagsterInstance.local_temp(tempdir=str(tmp_path)):
        pass
    ctx = multiprocessing.get_context("spawn")
    ready, out = ctx.Barrier(processes), ctx.Queue()
    with stand_in_vms(count=vm_count, down=0, first_address=51) as pool:
        workers = [ctx.Process(target=select_many,
                               args=(str(tmp_path), pool.spec, per_process, ready, out))
                   for _ in range(processes)]
        for worker in workers:
            worker.start()
        try:
            results = [out.get(timeout=120) for _ in workers]
        finally:
            for worker in workers:
                worker.join(timeout=10)
                if worker.is_alive():
                    worker.kill()
    errors = [detail for status, detail in results if status == "error"]
    assert not errors, errors[0]
    picks = [pick for _, worker_picks in results for pick in worker_picks]
    cursors = sorted(cursor for cursor, _ in picks)
    assert cursors == list(range(processes * per_process)), "a cursor value was used twice"
    fair = processes * per_process / vm_count
    counts = collections.Counter(host for _, host in picks)
    assert set(counts) == {vm.host for vm in pool.vms}
    for host, count in counts.items():
        assert abs(count - fair) <= 0.02 * fair, f"{host} ran {count} tasks; fair is {fair:g}"
