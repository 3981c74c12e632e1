"""Fixtures for the VM pool tests.

`memory_store` is an injected stand-in for the instance key-value store (a dict behind a
threading lock), used only by the unit tests of the selection logic; the cursor tests use a
real Dagster instance on disk. `netns_hosts` makes real hosts in a network namespace.
"""

import contextlib
import threading
from collections.abc import Iterator, Mapping

import pytest

from jobops_dagster.vm_pool.cursor import PoolStateStore
from jobops_dagster_tests.vm_pool import netns


class DictStorage:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get_cursor_values(self, keys: set[str]) -> Mapping[str, str]:
        return {k: v for k, v in self.values.items() if k in keys}

    def set_cursor_values(self, pairs: Mapping[str, str]) -> None:
        self.values.update(pairs)


class ThreadLock:
    def __init__(self) -> None:
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        with self._lock:
            yield


@pytest.fixture
def memory_store() -> PoolStateStore:
    return PoolStateStore(storage=DictStorage(), lock=ThreadLock(), pool="test")


@pytest.fixture
def netns_hosts() -> Iterator[netns.NamespaceHosts]:
    """Two hosts that answer and two behind a veth whose far end is down (root only)."""
    reason = netns.unavailable_reason()
    if reason:
        pytest.skip(reason)
    with netns.namespace_hosts(up=2, down=2) as hosts:
        yield hosts
