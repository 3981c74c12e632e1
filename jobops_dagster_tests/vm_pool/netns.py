"""Hosts in a network namespace created for one test: some answer, some silently drop.

Each host is the far end of its own veth pair inside a namespace this module creates. A host
is "down" when its end of the pair is taken down: packets to it are then never answered and
probes time out, as with a dead VM. All addresses come from 198.18.0.0/15 (set aside for
benchmarks by RFC 2544), and a blackhole route for this process's /24 guards against
anything escaping to the default route while the namespace is being built or torn down.
Everything created is removed on exit. Needs root and iproute2.
"""

import contextlib
import dataclasses
import os
import shutil
import subprocess
from collections.abc import Iterator


@dataclasses.dataclass(frozen=True, kw_only=True)
class NamespaceHosts:
    namespace: str
    up: tuple[str, ...]
    down: tuple[str, ...]


def unavailable_reason() -> str | None:
    """Why namespace hosts cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "network-namespace hosts need root (ip netns add, veth pairs); CI runs as root"
    if shutil.which("ip") is None:
        return "network-namespace hosts need the `ip` command from iproute2"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def run_in(namespace: str, *argv: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run `argv` inside `namespace`, capturing its output."""
    return subprocess.run(["ip", "netns", "exec", namespace, *argv], capture_output=True,
                          text=True, **kwargs)  # type: ignore[call-overload]


@contextlib.contextmanager
def namespace(name: str) -> Iterator[str]:
    """An empty namespace with its loopback up, deleted on exit."""
    _ip("netns", "add", name)
    try:
        _ip("-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


@contextlib.contextmanager
def namespace_hosts(*, up: int, down: int) -> Iterator[NamespaceHosts]:
    tag = os.getpid() % 100_000
    third = os.getpid() % 256
    guard = f"198.18.{third}.0/24"
    links: list[str] = []
    _ip("route", "add", "blackhole", guard, "metric", "4000")
    try:
        with namespace(f"jobops-vm-{tag}") as ns:
            addresses: list[str] = []
            for i in range(up + down):
                near, far = f"jv{tag}n{i}", f"jv{tag}f{i}"
                _ip("link", "add", near, "type", "veth", "peer", "name", far)
                links.append(near)
                _ip("link", "set", far, "netns", ns)
                _ip("addr", "add", f"198.18.{third}.{4 * i + 1}/30", "dev", near)
                _ip("-n", ns, "addr", "add", f"198.18.{third}.{4 * i + 2}/30", "dev", far)
                _ip("link", "set", near, "up")
                _ip("-n", ns, "link", "set", far, "up" if i < up else "down")
                addresses.append(f"198.18.{third}.{4 * i + 2}")
            yield NamespaceHosts(namespace=ns, up=tuple(addresses[:up]),
                                 down=tuple(addresses[up:]))
    finally:
        for link in links:
            subprocess.run(["ip", "link", "del", link], check=False, capture_output=True)
        subprocess.run(["ip", "route", "del", "blackhole", guard, "metric", "4000"],
                       check=False, capture_output=True)
