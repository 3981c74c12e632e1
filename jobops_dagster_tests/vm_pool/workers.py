"""A worker process for the concurrency test: many selections against one instance directory.

It lives in its own module so that `multiprocessing` with the spawn start method can import
it in each child.
"""

import multiprocessing.synchronize

import dagster as dg

from jobops_dagster.vm_pool.cursor import store_for_instance
from jobops_dagster.vm_pool.hosts import parse_vms
from jobops_dagster.vm_pool.probes import TcpProbe
from jobops_dagster.vm_pool.selection import SelectionPolicy, Selector


def select_many(
    root: str, spec: str, n: int, start: multiprocessing.synchronize.Event,
) -> list[tuple[int, str]]:
    """`(cursor, host)` of `n` selections made from a fresh instance on `root`."""
    with dg.DagsterInstance.local_temp(tempdir=root) as instance:
        selector = Selector(
            pool="concurrency", vms=parse_vms(spec), probe=TcpProbe(timeout_s=1),
            store=store_for_instance(instance, pool="concurrency"), policy=SelectionPolicy(),
        )
        start.wait(timeout=60)
        picks = []
        for _ in range(n):
            selection = selector.select()
            picks.append((selection.cursor, selection.vm.host))
        return picks
