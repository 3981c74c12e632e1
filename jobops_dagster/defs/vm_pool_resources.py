"""Resources for the VM pool: `vm_pool` chooses a VM, `vm_transport` runs commands on it.

`vm_pool_resources_from_env` builds both from environment variables (see docs/vm_pool.md).
Without `JOBOPS_VMS` or `JOBOPS_VMS_FILE` the pool is this machine alone, not probed, with
the local transport: the embedded default that needs neither root nor SSH.
"""

import os
import pathlib
from collections.abc import Mapping
from typing import Literal, TypedDict

import dagster as dg
from pydantic import Field

from jobops_dagster.vm_pool.cursor import InstanceLike, store_for_instance
from jobops_dagster.vm_pool.dispatch import LocalTransport, SSHTransport, Transport
from jobops_dagster.vm_pool.hosts import VM, load_vms_file, parse_vms
from jobops_dagster.vm_pool.probes import IcmpMode, IcmpProbe, Probe, ProbeResult, TcpProbe
from jobops_dagster.vm_pool.selection import Fallback, SelectionPolicy, Selector

EMBEDDED_VMS = "127.0.0.1"


def _not_probed(vm: VM) -> ProbeResult:
    return ProbeResult(host=vm.host, reachable=True, rtt_ms=None, detail="not probed",
                       method="none")


class VMPoolResource(dg.ConfigurableResource):
    """The pool of VMs that tasks run on, and how each is checked before it gets one."""

    pool_name: str = Field(default="default", description="Names the cursor key and lock.")
    vms: str = Field(default=EMBEDDED_VMS, description="host[:sshport][*weight],...")
    vms_file: str | None = Field(default=None, description="JSON list of VMs; beats `vms`.")
    probe: Literal["icmp", "tcp", "none"] = Field(default="none", description="Reachability.")
    icmp_mode: IcmpMode = Field(default="auto", description="auto, unprivileged or raw.")
    probe_port: int | None = Field(default=None, description="TCP port; unset: the SSH port.")
    probe_timeout_s: float = Field(default=1.0, description="Seconds per probe attempt.")
    probe_count: int = Field(default=1, description="Attempts per probe.")
    fail_timeout_s: float = Field(default=30.0, description="Seconds a failed VM is skipped.")
    fallback: Fallback = Field(default="fail", description="When no VM answers.")
    retry_wait_s: float = Field(default=10.0, description="Wait between wait_and_retry rounds.")
    retry_rounds: int = Field(default=3, description="Rounds for wait_and_retry.")
    hedge_after_s: float = Field(default=0.05, description="Head start of the first VM.")
    probe_deadline_s: float | None = Field(default=None, description="Hard stop per probe.")
    lock_dir: str | None = Field(default=None, description="Folder of the selection lock.")

    def pool_vms(self) -> tuple[VM, ...]:
        return load_vms_file(pathlib.Path(self.vms_file)) if self.vms_file else parse_vms(self.vms)

    def probe_fn(self) -> Probe:
        if self.probe == "icmp":
            return IcmpProbe(timeout_s=self.probe_timeout_s, count=self.probe_count,
                             mode=self.icmp_mode)
        if self.probe == "tcp":
            return TcpProbe(timeout_s=self.probe_timeout_s, count=self.probe_count,
                            port=self.probe_port)
        return _not_probed

    def selector(self, instance: InstanceLike) -> Selector:
        """A selector whose state lives in `instance`'s key-value store."""
        return Selector(
            pool=self.pool_name, vms=self.pool_vms(), probe=self.probe_fn(),
            store=store_for_instance(instance, pool=self.pool_name, lock_dir=self.lock_dir),
            policy=SelectionPolicy(
                fail_timeout_s=self.fail_timeout_s, fallback=self.fallback,
                retry_wait_s=self.retry_wait_s, retry_rounds=self.retry_rounds,
                hedge_after_s=self.hedge_after_s,
                # Attempts are 0.2 s apart (IcmpProbe.interval_s); the margin covers thread
                # start-up on a loaded machine.
                probe_deadline_s=self.probe_deadline_s
                or self.probe_count * self.probe_timeout_s + (self.probe_count - 1) * 0.2 + 0.1,
            ),
        )


class VMTransportResource(dg.ConfigurableResource):
    """How commands reach the chosen VM: `ssh`, or `local` to run them on this machine."""

    kind: Literal["local", "ssh"] = Field(default="local", description="ssh, or local.")
    ssh_user: str | None = Field(default=None, description="Remote user for SSH.")
    ssh_key_path: str | None = Field(default=None, description="Private key file for SSH.")
    known_hosts_path: str | None = Field(default=None, description="known_hosts to trust.")
    accept_unknown_hosts: bool = Field(
        default=False, description="Trust host keys never seen; for test rigs only."
    )
    connect_timeout_s: float = Field(default=10.0, description="Seconds to connect over SSH.")

    def transport(self) -> Transport:
        if self.kind == "local":
            return LocalTransport()
        if not self.ssh_user:
            raise ValueError(
                "the ssh transport needs a user name: set ssh_user (JOBOPS_SSH_USER), or use "
                "kind='local' (JOBOPS_VM_TRANSPORT=local) to run tasks on this machine"
            )
        return SSHTransport(
            user=self.ssh_user,
            key_path=pathlib.Path(self.ssh_key_path) if self.ssh_key_path else None,
            known_hosts=pathlib.Path(self.known_hosts_path) if self.known_hosts_path else None,
            accept_unknown_hosts=self.accept_unknown_hosts,
            connect_timeout_s=self.connect_timeout_s,
        )


_POOL_ENV = {
    "JOBOPS_VM_POOL": "pool_name",
    "JOBOPS_VMS": "vms",
    "JOBOPS_VMS_FILE": "vms_file",
    "JOBOPS_VM_PROBE": "probe",
    "JOBOPS_VM_ICMP_MODE": "icmp_mode",
    "JOBOPS_VM_PROBE_PORT": "probe_port",
    "JOBOPS_VM_PROBE_TIMEOUT_S": "probe_timeout_s",
    "JOBOPS_VM_PROBE_COUNT": "probe_count",
    "JOBOPS_VM_FAIL_TIMEOUT_S": "fail_timeout_s",
    "JOBOPS_VM_FALLBACK": "fallback",
    "JOBOPS_VM_RETRY_WAIT_S": "retry_wait_s",
    "JOBOPS_VM_RETRY_ROUNDS": "retry_rounds",
    "JOBOPS_VM_LOCK_DIR": "lock_dir",
}
_TRANSPORT_ENV = {
    "JOBOPS_VM_TRANSPORT": "kind",
    "JOBOPS_SSH_USER": "ssh_user",
    "JOBOPS_SSH_KEY": "ssh_key_path",
    "JOBOPS_SSH_KNOWN_HOSTS": "known_hosts_path",
    "JOBOPS_SSH_CONNECT_TIMEOUT_S": "connect_timeout_s",
}


class VMPoolResources(TypedDict):
    vm_pool: VMPoolResource
    vm_transport: VMTransportResource


def vm_pool_resources_from_env(env: Mapping[str, str] | None = None) -> VMPoolResources:
    """`{"vm_pool": ..., "vm_transport": ...}` configured from `env` (default `os.environ`).

    A configured pool (`JOBOPS_VMS` or `JOBOPS_VMS_FILE`) defaults to TCP probes and SSH;
    the embedded default is this machine with no probe and the local transport.
    """
    env = os.environ if env is None else env
    configured = bool(env.get("JOBOPS_VMS") or env.get("JOBOPS_VMS_FILE"))
    pool: dict[str, str] = {"probe": "tcp"} if configured else {}
    pool |= {field: env[name] for name, field in _POOL_ENV.items() if env.get(name)}
    transport: dict[str, str] = {"kind": "ssh"} if configured else {}
    transport |= {field: env[name] for name, field in _TRANSPORT_ENV.items() if env.get(name)}
    try:
        return {
            "vm_pool": VMPoolResource.model_validate(pool),
            "vm_transport": VMTransportResource.model_validate(transport),
        }
    except ValueError as e:
        raise ValueError(
            f"the VM pool settings in the environment are not valid: {e}. See docs/vm_pool.md "
            "for each JOBOPS_VM* variable and its allowed values."
        ) from e
