"""Running commands on the chosen VM: locally, and over SSH to a real sshd on loopback.

The SSH tests start `/usr/sbin/sshd` with a config, host key and client key made for the
test, and skip with the reason when sshd is missing. A stand-in VM that accepts TCP but
speaks no SSH plays the VM whose probe passes while SSH is down.
"""

import pathlib
from collections.abc import Iterator

import dagster as dg
import pytest

from jobops_dagster.defs.vm_pool import run_task
from jobops_dagster.defs.vm_pool_resources import VMPoolResource, VMTransportResource
from jobops_dagster.vm_pool.cursor import PoolStateStore
from jobops_dagster.vm_pool.dispatch import (
    LocalTransport,
    SSHTransport,
    TransportUnavailableError,
    run_on_pool,
)
from jobops_dagster.vm_pool.hosts import VM
from jobops_dagster.vm_pool.local import stand_in_vms
from jobops_dagster.vm_pool.probes import TcpProbe
from jobops_dagster.vm_pool.selection import (
    NoReachableVMError,
    Selection,
    SelectionPolicy,
    Selector,
)
from jobops_dagster_tests.vm_pool import sshd


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sshd.Sshd]:
    reason = sshd.unavailable_reason()
    if reason:
        pytest.skip(reason)
    with sshd.running_sshd(tmp_path_factory.mktemp("sshd")) as running:
        yield running


def ssh_transport(server: sshd.Sshd, **overrides: object) -> SSHTransport:
    settings: dict[str, object] = {"user": server.user, "key_path": server.client_key,
                                   "known_hosts": server.known_hosts, "connect_timeout_s": 5}
    return SSHTransport(**(settings | overrides))  # type: ignore[arg-type]


def selector_for(vms: list[VM], store: PoolStateStore) -> Selector:
    return Selector(pool="test", vms=vms, probe=TcpProbe(timeout_s=1), store=store,
                    policy=SelectionPolicy(fail_timeout_s=60))


def test_local_transport_streams_lines_and_returns_exit_code(tmp_path: pathlib.Path) -> None:
    lines: list[str] = []
    with LocalTransport(cwd=tmp_path).open(VM(host="127.0.0.9")) as session:
        code = session.run("echo one; echo two >&2; echo vm=$JOBOPS_VM; exit 3",
                           on_line=lines.append)
    assert code == 3
    assert lines == ["one", "two", "vm=127.0.0.9"]


def test_ssh_transport_streams_stdout_and_stderr_lines_with_exit_code(server: sshd.Sshd) -> None:
    lines: list[str] = []
    vm = VM(host=server.host, ssh_port=server.port)
    with ssh_transport(server).open(vm) as session:
        code = session.run("echo first; sleep 0.1; echo second >&2; exit 7", on_line=lines.append)
    assert code == 7
    assert lines == ["first", "second"]


def test_ssh_transport_unknown_host_key_is_refused(
    server: sshd.Sshd, tmp_path: pathlib.Path
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    vm = VM(host=server.host, ssh_port=server.port)
    with pytest.raises(TransportUnavailableError, match="not found in known_hosts"), \
            ssh_transport(server, known_hosts=empty).open(vm):
        pass


def test_run_on_pool_probe_up_but_ssh_down_moves_to_next_vm(
    server: sshd.Sshd, memory_store: PoolStateStore
) -> None:
    with stand_in_vms(count=1, down=0, first_address=31) as fake:
        vms = [*fake.vms, VM(host=server.host, ssh_port=server.port)]
        chosen: list[Selection] = []
        lines: list[str] = []
        result = run_on_pool(selector=selector_for(vms, memory_store),
                             transport=ssh_transport(server), command="echo ran on ssh",
                             on_line=lines.append, on_selection=chosen.append)
    assert [s.vm.host for s in chosen] == ["127.0.0.31", server.host]
    assert result.exit_code == 0
    assert lines == ["ran on ssh"]
    assert [host for host, _ in result.refused] == ["127.0.0.31"]
    assert memory_store.load().failed_until.keys() == {"127.0.0.31"}


def test_run_on_pool_every_vm_refusing_ssh_raises_with_each_reason(
    server: sshd.Sshd, memory_store: PoolStateStore
) -> None:
    with stand_in_vms(count=2, down=0, first_address=33) as fake, \
            pytest.raises(NoReachableVMError) as caught:
        run_on_pool(selector=selector_for(list(fake.vms), memory_store),
                    transport=ssh_transport(server), command="true",
                    on_line=lambda _: None, on_selection=lambda _: None)
    message = str(caught.value)
    assert "127.0.0.33: ssh" in message
    assert "127.0.0.34: ssh" in message


def test_run_task_over_ssh_streams_output_and_fails_on_exit_code(
    server: sshd.Sshd, tmp_path: pathlib.Path
) -> None:
    resources = {
        "vm_pool": VMPoolResource(vms=f"{server.host}:{server.port}", probe="tcp"),
        "vm_transport": VMTransportResource(
            kind="ssh", ssh_user=server.user, ssh_key_path=str(server.client_key),
            known_hosts_path=str(server.known_hosts),
        ),
    }

    def launch(instance: dg.DagsterInstance, command: str) -> dg.ExecuteInProcessResult:
        return run_task.execute_in_process(
            instance=instance, resources=resources, raise_on_error=False,
            run_config={"ops": {"run_task_on_vm": {"config": {
                "job_name": "NIGHTLY_SSH", "command": command}}}},
        )

    with dg.DagsterInstance.local_temp(tempdir=str(tmp_path)) as instance:
        ok = launch(instance, "echo over ssh; hostname >/dev/null")
        failed = launch(instance, "echo failing; exit 5")
        logged = [entry.user_message for entry in instance.all_logs(ok.run_id)]
    assert ok.success
    assert f"[{server.host}] over ssh" in logged
    assert not failed.success
    failure = failed.failure_data_for_node("run_task_on_vm")
    assert failure is not None and failure.error is not None
    assert f"exited with code 5 on VM {server.host}" in failure.error.message
