"""Real probes on loopback: ICMP echo to 127.0.0.x and TCP connects to local listeners.

The socket-permission tests run a child process as the unprivileged user `nobody` inside a
namespace created for the test, where `net.ipv4.ping_group_range` can be set without
touching the host's value (the sysctl is per network namespace). They need root.
"""

import os
import socket
import sys
from collections.abc import Iterator

import icmplib
import pytest

from jobops_dagster.vm_pool.hosts import VM
from jobops_dagster.vm_pool.probes import IcmpProbe, TcpProbe
from jobops_dagster_tests.vm_pool import netns


def _icmp_allowed() -> bool:
    for privileged in (False, True):
        try:
            icmplib.ICMPv4Socket(privileged=privileged).close()
            return True
        except icmplib.SocketPermissionError:
            continue
    return False


needs_icmp = pytest.mark.skipif(
    not _icmp_allowed(),
    reason="this process may open neither unprivileged nor raw ICMP sockets "
    "(run as root, or widen net.ipv4.ping_group_range)",
)


@pytest.fixture
def listener() -> Iterator[tuple[str, int]]:
    with socket.create_server(("127.0.0.21", 0)) as server:
        yield "127.0.0.21", server.getsockname()[1]


@needs_icmp
@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.7"])
def test_icmp_probe_loopback_is_reachable_with_rtt(host: str) -> None:
    result = IcmpProbe(timeout_s=1, count=2, interval_s=0.05)(VM(host=host))
    assert result.reachable, result.detail
    assert result.rtt_ms is not None and result.rtt_ms < 100
    assert result.detail == "icmp: 2/2 replies"


def test_tcp_probe_listening_port_is_reachable(listener: tuple[str, int]) -> None:
    host, port = listener
    result = TcpProbe(timeout_s=1)(VM(host=host, ssh_port=port))
    assert result.reachable
    assert result.detail == f"tcp/{port} open"


def test_tcp_probe_closed_port_is_refused_at_once(listener: tuple[str, int]) -> None:
    _, port = listener
    result = TcpProbe(timeout_s=1, port=port)(VM(host="127.0.0.22"))
    assert not result.reachable
    assert result.detail == f"tcp/{port}: connection refused"


_CHILD = """
import sys
from jobops_dagster.vm_pool.hosts import VM
from jobops_dagster.vm_pool.probes import IcmpProbe, IcmpNotPermittedError
try:
    result = IcmpProbe(timeout_s=1, mode=sys.argv[1])(VM(host="127.0.0.1"))
except IcmpNotPermittedError as e:
    print("ERROR", e)
else:
    print("REACHABLE" if result.reachable else "DOWN", result.detail)
"""


def _ping_as_nobody(ping_group_range: str, mode: str) -> str:
    reason = netns.unavailable_reason()
    if reason:
        pytest.skip(reason)
    with netns.namespace(f"jobops-icmp-{os.getpid() % 100_000}") as ns:
        # /proc/sys/net shows the namespace of the writer, so the host's value is untouched.
        netns.run_in(ns, "sh", "-c",
                     f"echo '{ping_group_range}' > /proc/sys/net/ipv4/ping_group_range",
                     check=True)
        done = netns.run_in(ns, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            sys.executable, "-c", _CHILD, mode, cwd="/", timeout=60,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_icmp_probe_without_permission_explains_sysctl_and_cap_net_raw() -> None:
    out = _ping_as_nobody("1 0", "auto")
    assert out.startswith("ERROR cannot open unprivileged and raw ICMP sockets")
    assert "net.ipv4.ping_group_range" in out
    assert "CAP_NET_RAW" in out


def test_icmp_probe_unprivileged_when_group_range_allows_it() -> None:
    assert _ping_as_nobody("0 2147483647", "unprivileged") == "REACHABLE icmp: 1/1 replies"
