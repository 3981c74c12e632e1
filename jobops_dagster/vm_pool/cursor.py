"""The pool's round-robin state, kept in the Dagster instance key-value store under a lock.

The state of pool `<name>` is one JSON value under the key `jobops/vm_pool/<name>/cursor`:

    {"v": 1, "seq": 812, "current": {"vm1": -3, ...}, "failed_until": {"vm4": 1764770000.5}}

`seq` counts selections made, `current` holds each VM's smooth weighted round-robin weight,
and `failed_until` is the wall-clock time each VM's cool-down ends.

The key-value store (`get_cursor_values` / `set_cursor_values` on run storage) has no
compare-and-set, so two processes doing read-modify-write would lose updates. Every
read-modify-write therefore happens under an exclusive `fcntl` lock on a file next to the
instance's storage, which serializes all processes that share that instance directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import pathlib
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

log = logging.getLogger(__name__)

_STATE_VERSION = 1


def cursor_key(pool: str) -> str:
    """The instance key-value store key that holds pool `pool`'s state."""
    return f"jobops/vm_pool/{pool}/cursor"


@dataclasses.dataclass(frozen=True, kw_only=True)
class PoolState:
    """Where the round robin stands, and which VMs are cooling down after a failure."""

    seq: int = 0
    current: Mapping[str, int] = dataclasses.field(default_factory=dict)
    failed_until: Mapping[str, float] = dataclasses.field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": _STATE_VERSION,
                "seq": self.seq,
                "current": dict(self.current),
                "failed_until": dict(self.failed_until),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, raw: str, *, key: str) -> PoolState:
        try:
            data = json.loads(raw)
            if data.get("v") != _STATE_VERSION:
                raise ValueError(f"unknown state version {data.get('v')!r}")
            return cls(
                seq=int(data["seq"]),
                current={str(k): int(v) for k, v in data["current"].items()},
                failed_until={str(k): float(v) for k, v in data["failed_until"].items()},
            )
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ValueError(
                f"the VM pool state under key {key!r} cannot be read ({e}); value was "
                f"{raw[:200]!r}. Delete the key from the instance key-value store to restart "
                "the round robin from the first VM."
            ) from e


class RunStorageLike(Protocol):
    def get_cursor_values(self, keys: set[str]) -> Mapping[str, str]: ...

    def set_cursor_values(self, pairs: Mapping[str, str]) -> None: ...


class InstanceLike(Protocol):
    """The parts of `dagster.DagsterInstance` this module uses."""

    @property
    def run_storage(self) -> Any: ...

    @property
    def root_directory(self) -> str: ...


class FileLock:
    """An exclusive `fcntl.flock` on `path`, held for the duration of a `with` block.

    Each `with` opens its own file description, so the lock excludes other threads of this
    process as well as other processes.
    """

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


class LockLike(Protocol):
    def hold(self) -> contextlib.AbstractContextManager[None]: ...


class PoolStateStore:
    """Reads and writes one pool's state; `transaction()` gives exclusive read-modify-write."""

    def __init__(self, *, storage: RunStorageLike, lock: LockLike, pool: str) -> None:
        self._storage = storage
        self._lock = lock
        self.key = cursor_key(pool)

    def load(self) -> PoolState:
        raw = self._storage.get_cursor_values({self.key}).get(self.key)
        return PoolState() if raw is None else PoolState.from_json(raw, key=self.key)

    def save(self, state: PoolState) -> None:
        self._storage.set_cursor_values({self.key: state.to_json()})

    @contextlib.contextmanager
    def transaction(self) -> Iterator[PoolStateStore]:
        with self._lock.hold():
            yield self


def lock_path_for(*, root_directory: str, pool: str) -> pathlib.Path:
    """Where pool `pool`'s lock file lives: under the instance directory, beside its storage."""
    return pathlib.Path(root_directory) / "vm_pool" / f"{pool}.lock"


def store_for_instance(
    instance: InstanceLike, *, pool: str, lock_dir: str | None = None
) -> PoolStateStore:
    """The state store of `pool` in `instance`, locked with a file in `lock_dir` or beside it."""
    path = (
        pathlib.Path(lock_dir) / f"{pool}.lock"
        if lock_dir
        else lock_path_for(root_directory=instance.root_directory, pool=pool)
    )
    log.debug("VM pool %s keeps its state under %s, locked by %s", pool, cursor_key(pool), path)
    return PoolStateStore(storage=instance.run_storage, lock=FileLock(path), pool=pool)
