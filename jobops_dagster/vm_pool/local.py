"""Stand-in VMs on this machine: TCP listeners on 127.0.0.x, for the demo and for `make dev`.

Each stand-in is a listening socket on its own loopback address, so a TCP probe sees it as
up; a stand-in that is "down" gets an address with nothing listening, which refuses at
once. Neither needs root, and commands then run through the local transport.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import socket
import threading
from collections.abc import Iterator

from jobops_dagster.vm_pool.hosts import VM

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class StandInPool:
    """The stand-in VMs and the `JOBOPS_VMS` value that describes them."""

    vms: tuple[VM, ...]
    down: tuple[str, ...]

    @property
    def spec(self) -> str:
        return ",".join(f"{vm.host}:{vm.ssh_port}*{vm.weight}" for vm in self.vms)

    def env(self) -> dict[str, str]:
        """Variables that make `vm_pool_resources_from_env` use these stand-ins, locally."""
        return {
            "JOBOPS_VMS": self.spec,
            "JOBOPS_VM_PROBE": "tcp",
            "JOBOPS_VM_PROBE_TIMEOUT_S": "0.5",
            "JOBOPS_VM_TRANSPORT": "local",
        }


def _serve(listener: socket.socket, stop: threading.Event) -> None:
    """Accept and drop connections until `stop` is set or the listener is closed."""
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        conn.close()


def _unused_port(host: str) -> int:
    """A port on `host` that nothing listens on right now, so connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def stand_in_vms(
    *, count: int = 3, down: int = 1, port: int = 0, first_address: int = 11
) -> Iterator[StandInPool]:
    """Listen on `127.0.0.<first_address>`... for `count` VMs, leaving the last `down` silent.

    With `port=0` each stand-in gets a free port of its own (see each VM's `ssh_port`), so
    several pools can coexist. The listeners close when the `with` block ends.
    """
    if not 0 <= down <= count or first_address + count > 255:
        raise ValueError(
            f"cannot make {count} stand-in VMs with {down} down from 127.0.0.{first_address}: "
            "need 0 <= down <= count and addresses that stay below 127.0.0.255"
        )
    stop = threading.Event()
    listeners: list[socket.socket] = []
    vms: list[VM] = []
    try:
        for i in range(count):
            host = f"127.0.0.{first_address + i}"
            if i >= count - down:
                vms.append(VM(host=host, ssh_port=port or _unused_port(host)))
                continue
            listener = socket.create_server((host, port))
            listeners.append(listener)
            # Set here, not in the thread: the pool may close before the thread first runs.
            listener.settimeout(0.2)
            vms.append(VM(host=host, ssh_port=int(listener.getsockname()[1])))
            threading.Thread(target=_serve, args=(listener, stop), daemon=True,
                             name=f"stand-in-{host}").start()
        pool = StandInPool(vms=tuple(vms), down=tuple(vm.host for vm in vms[count - down :]))
        log.info("Stand-in VMs up: %s; down: %s",
                 ", ".join(f"{vm.host}:{vm.ssh_port}" for vm in vms[: count - down]),
                 ", ".join(pool.down) or "none")
        yield pool
    finally:
        stop.set()
        for listener in listeners:
            listener.close()
