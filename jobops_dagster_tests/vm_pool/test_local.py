"""The demo's stand-in VMs: real listeners on 127.0.0.x that TCP probes see as up or down,
and the environment that points the resources at them."""

from jobops_dagster.defs.vm_pool_resources import vm_pool_resources_from_env
from jobops_dagster.vm_pool.local import stand_in_vms
from jobops_dagster.vm_pool.probes import TcpProbe


def test_stand_in_vms_listen_except_the_down_ones() -> None:
    with stand_in_vms(count=3, down=1, first_address=91) as pool:
        reachable = {vm.host: TcpProbe(timeout_s=1)(vm).reachable for vm in pool.vms}
    assert reachable == {"127.0.0.91": True, "127.0.0.92": True, "127.0.0.93": False}
    assert pool.down == ("127.0.0.93",)


def test_stand_in_env_builds_tcp_probed_local_pool() -> None:
    with stand_in_vms(count=2, down=0, first_address=95) as pool:
        resources = vm_pool_resources_from_env(pool.env())
    vm_pool, transport = resources["vm_pool"], resources["vm_transport"]
    assert vm_pool.pool_vms() == pool.vms
    assert (vm_pool.probe, transport.kind) == ("tcp", "local")
