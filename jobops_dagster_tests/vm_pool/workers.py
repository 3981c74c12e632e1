"""A worker process for the concurrency test: many selections against one instance directory.

It lives in its own module so that `multiprocessing` with the spawn start method can import
it in each child.
"""

import multiprocessing.queues
import multiprocessing.synchronize
import traceback

import dagster as dg

from jobops_dagster.vm_pool.cursor import store_for_instance
from jobops_dagster.vm_pool.hosts import parse_vms
from jobops_dagster.vm_pool.probes import TcpProbe
from jobops_dagster.vm_pool.selection import SelectionPolicy, Selector


def select_many(
    root: str, spec: str, n: int, ready: multiprocessing.synchronize.Barrier,
    out: "multiprocessing.queues.Queue[tuple[str, object]]",
) -> None:
    """Put `("ok", [(cursor, host), ...])` for `n` selections on `out`, or `("error", text)`.

    Every worker opens its own instance on `root` and then waits at `ready`, so that all of
    them select at the same time.
    """
    try:
        with dg.DagsterInstance.local_temp(tempdir=root) as instance:
            selector = Selector(
                pool="concurrency", vms=parse_vms(spec), probe=TcpProbe(timeout_s=1),
                store=store_for_instance(instance, pool="concurrency"),
                policy=SelectionPolicy(),
            )
            ready.wait(timeout=60)
            picks = []
            for _ in range(n):
                selection = selector.select()
                picks.append((selection.cursor, selection.vm.host))
        out.put(("ok", picks))
    except Exception:
        out.put(("error", traceback.format_exc()))
