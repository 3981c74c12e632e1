"""Selection against hosts that really time out: veth peers, link down, in a test namespace.

The namespace, the veth pairs and a guard route are created by the `netns_hosts` fixture and
removed after each test. These tests need root and are skipped otherwise; CI runs as root.
"""

import time

from jobops_dagster.vm_pool.cursor import PoolStateStore
from jobops_dagster.vm_pool.hosts import VM
from jobops_dagster.vm_pool.probes import IcmpProbe, TcpProbe
from jobops_dagster.vm_pool.selection import SelectionPolicy, Selector
from jobops_dagster_tests.vm_pool.netns import NamespaceHosts


def test_icmp_probe_host_behind_downed_link_times_out(netns_hosts: NamespaceHosts) -> None:
    probe = IcmpProbe(timeout_s=0.3, mode="raw")
    assert probe(VM(host=netns_hosts.up[0])).reachable
    started = time.perf_counter()
    result = probe(VM(host=netns_hosts.down[0]))
    assert not result.reachable
    assert result.detail == "icmp: no reply to 1 echo request(s) within 0.3s"
    assert time.perf_counter() - started >= 0.25


def test_tcp_probe_host_behind_downed_link_times_out(netns_hosts: NamespaceHosts) -> None:
    result = TcpProbe(timeout_s=0.3)(VM(host=netns_hosts.down[0]))
    assert not result.reachable
    assert result.detail == "tcp/22: no answer within 0.3s"


def test_select_two_dead_vms_first_costs_one_timeout_and_warm_cool_down_skips_them(
    netns_hosts: NamespaceHosts, memory_store: PoolStateStore,
) -> None:
    down_a, down_b = netns_hosts.down
    up_a, up_b = netns_hosts.up
    vms = [VM(host=h) for h in (down_a, down_b, up_a, up_b)]
    selector = Selector(pool="test", vms=vms, probe=IcmpProbe(timeout_s=0.5, mode="raw"),
                        store=memory_store, policy=SelectionPolicy(fail_timeout_s=60))
    cold = selector.select()
    assert cold.vm.host == up_a
    assert [r.reachable for r in cold.results[:3]] == [False, False, True]
    assert cold.duration_s < 0.9, "the dead VMs were probed one after the other"
    warm = [selector.select() for _ in range(4)]
    assert [s.vm.host for s in warm] == [up_b, up_a, up_b, up_a]
    assert all(s.duration_s < 0.2 for s in warm)
    assert set(warm[0].skipped_cooling) == {down_a, down_b}
