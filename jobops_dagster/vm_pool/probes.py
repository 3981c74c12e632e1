"""Reachability probes (ICMP echo or TCP connect) and probing candidates in parallel, in order.

ICMP goes through icmplib. Unprivileged ICMP sockets work when the caller's group is inside
`net.ipv4.ping_group_range`; raw sockets need root or CAP_NET_RAW. Clouds often drop ICMP, so
a TCP connect to the SSH port is the other method.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import errno
import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Literal

import icmplib

from jobops_dagster.vm_pool.hosts import VM

log = logging.getLogger(__name__)

IcmpMode = Literal["auto", "unprivileged", "raw"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProbeResult:
    """What one probe of one VM found; `detail` says why it failed, or how it answered."""

    host: str
    reachable: bool
    rtt_ms: float | None
    detail: str
    method: str


Probe = Callable[[VM], ProbeResult]


class IcmpNotPermittedError(PermissionError):
    """Neither unprivileged nor raw ICMP sockets may be opened by this process."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class TcpProbe:
    """Reachable when a TCP connection to `port` (default: the VM's SSH port) opens in time."""

    timeout_s: float = 1.0
    count: int = 1
    port: int | None = None

    def __call__(self, vm: VM) -> ProbeResult:
        port = self.port or vm.ssh_port
        detail = "not probed"
        for _ in range(self.count):
            started = time.perf_counter()
            try:
                with socket.create_connection((vm.host, port), timeout=self.timeout_s):
                    rtt_ms = (time.perf_counter() - started) * 1000
            except TimeoutError:
                detail = f"tcp/{port}: no answer within {self.timeout_s:g}s"
            except ConnectionRefusedError:
                detail = f"tcp/{port}: connection refused"
            except OSError as e:
                detail = f"tcp/{port}: {errno.errorcode.get(e.errno or 0, 'error')} {e.strerror}"
            else:
                return ProbeResult(
                    host=vm.host, reachable=True, rtt_ms=rtt_ms,
                    detail=f"tcp/{port} open", method="tcp",
                )
        return ProbeResult(host=vm.host, reachable=False, rtt_ms=None, detail=detail, method="tcp")


@dataclasses.dataclass(frozen=True, kw_only=True)
class IcmpProbe:
    """Reachable when any of `count` echo requests is answered within `timeout_s`."""

    timeout_s: float = 1.0
    count: int = 1
    interval_s: float = 0.2
    mode: IcmpMode = "auto"

    def __call__(self, vm: VM) -> ProbeResult:
        privileged = _privileged_for(self.mode)
        try:
            host = icmplib.ping(
                vm.host, count=self.count, interval=self.interval_s, timeout=self.timeout_s,
                privileged=privileged,
            )
        except icmplib.SocketPermissionError as e:
            raise IcmpNotPermittedError(_icmp_fix(self.mode)) from e
        except icmplib.ICMPLibError as e:
            return ProbeResult(
                host=vm.host, reachable=False, rtt_ms=None, detail=f"icmp: {e}", method="icmp"
            )
        if host.is_alive:
            return ProbeResult(
                host=vm.host, reachable=True, rtt_ms=host.avg_rtt,
                detail=f"icmp: {host.packets_received}/{host.packets_sent} replies",
                method="icmp",
            )
        return ProbeResult(
            host=vm.host, reachable=False, rtt_ms=None,
            detail=f"icmp: no reply to {host.packets_sent} echo request(s) within "
            f"{self.timeout_s:g}s",
            method="icmp",
        )


_auto_lock = threading.Lock()
_auto_privileged: bool | None = None


def _privileged_for(mode: IcmpMode) -> bool:
    """Whether to use raw sockets; `auto` prefers unprivileged ones and decides once."""
    global _auto_privileged
    if mode != "auto":
        return mode == "raw"
    with _auto_lock:
        if _auto_privileged is None:
            _auto_privileged = _choose_icmp_socket()
        return _auto_privileged


def _choose_icmp_socket() -> bool:
    for privileged in (False, True):
        try:
            icmplib.ICMPv4Socket(privileged=privileged).close()
        except icmplib.SocketPermissionError:
            continue
        log.debug("ICMP probes use %s sockets", "raw" if privileged else "unprivileged")
        return privileged
    raise IcmpNotPermittedError(_icmp_fix("auto"))


def _icmp_fix(mode: IcmpMode) -> str:
    tried = {"auto": "unprivileged and raw", "unprivileged": "unprivileged", "raw": "raw"}[mode]
    return (
        f"cannot open {tried} ICMP sockets, so VMs cannot be pinged. Either let this "
        "process's group use unprivileged ICMP (sysctl -w net.ipv4.ping_group_range='0 "
        "2147483647', or a range holding its gid), or grant the Python binary CAP_NET_RAW "
        "(setcap cap_net_raw+ep <python>) for raw sockets, or set the probe method to 'tcp'."
    )


def probe_in_order(
    vms: Sequence[VM], probe: Probe, *, hedge_after_s: float, deadline_s: float | None = None
) -> tuple[list[ProbeResult], VM | None]:
    """Probe `vms` and return the first reachable one in their order, with the results seen.

    The first VM is probed alone for `hedge_after_s`; if it has not answered by then, the rest
    are probed at once, so a round costs about one timeout however many VMs are dead. The
    winner is still the earliest reachable VM in `vms`, never merely the fastest. A probe that
    has not returned `deadline_s` after it started counts as failed (icmplib, for one, waits
    afresh after each unrelated ICMP packet, and name lookups ignore socket timeouts). Probes
    still running when the winner is known are left to finish on their own.
    """
    if not vms:
        return [], None
    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=len(vms), thread_name_prefix="vm-probe"
    )
    try:
        started = [time.monotonic()]
        futures = [pool.submit(probe, vms[0])]
        done, _ = concurrent.futures.wait(futures, timeout=hedge_after_s)
        if not (done and futures[0].result().reachable):
            for vm in vms[1:]:
                started.append(time.monotonic())
                futures.append(pool.submit(probe, vm))
        results: list[ProbeResult] = []
        chosen: VM | None = None
        for vm, future, began in zip(vms, futures, started, strict=False):
            if chosen is not None and not future.done():
                continue
            result = _result_by(future, vm, began=began, deadline_s=deadline_s)
            results.append(result)
            if chosen is None and result.reachable:
                chosen = vm
        return results, chosen
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _result_by(
    future: concurrent.futures.Future[ProbeResult], vm: VM, *, began: float,
    deadline_s: float | None,
) -> ProbeResult:
    if deadline_s is None:
        return future.result()
    try:
        return future.result(timeout=max(0.0, began + deadline_s - time.monotonic()))
    except TimeoutError:
        return ProbeResult(host=vm.host, reachable=False, rtt_ms=None,
                           detail=f"probe still unanswered after its {deadline_s:g}s deadline",
                           method="deadline")
