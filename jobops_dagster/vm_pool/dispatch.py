"""Running a task's command on a selected VM, over SSH or on this machine, line by line.

`run_on_pool` is the whole path of one task: select a VM, open a session with the transport,
and run the command while each output line goes to a callback. A VM that answers its probe
but refuses the session counts as unreachable for this task: it starts its cool-down and the
next VM in round-robin order is tried.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import pathlib
import subprocess
from collections.abc import Callable, Iterator
from typing import Protocol

import paramiko

from jobops_dagster.vm_pool.hosts import VM
from jobops_dagster.vm_pool.probes import ProbeResult
from jobops_dagster.vm_pool.selection import NoReachableVMError, Selection, Selector

log = logging.getLogger(__name__)

LineSink = Callable[[str], None]


class TransportUnavailableError(ConnectionError):
    """The VM would not open a session (refused, timed out, handshake or login failed)."""


class Session(Protocol):
    def run(self, command: str, *, on_line: LineSink) -> int: ...


class Transport(Protocol):
    def open(self, vm: VM) -> contextlib.AbstractContextManager[Session]: ...


@dataclasses.dataclass(frozen=True, kw_only=True)
class TaskResult:
    """How a task ended: the VM it ran on, its exit code, and `(host, reason)` refusals."""

    selection: Selection
    exit_code: int
    refused: tuple[tuple[str, str], ...]


class _LocalSession:
    def __init__(self, vm: VM, cwd: pathlib.Path | None) -> None:
        self._vm = vm
        self._cwd = cwd

    def run(self, command: str, *, on_line: LineSink) -> int:
        env = {**os.environ, "JOBOPS_VM": self._vm.host}
        with subprocess.Popen(
            ["/bin/sh", "-c", command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, text=True, errors="replace", env=env, cwd=self._cwd,
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                on_line(line.rstrip("\n"))
        return proc.returncode


@dataclasses.dataclass(frozen=True, kw_only=True)
class LocalTransport:
    """Runs the command here, with `JOBOPS_VM` set to the chosen host: a stand-in VM."""

    cwd: pathlib.Path | None = None

    @contextlib.contextmanager
    def open(self, vm: VM) -> Iterator[Session]:
        yield _LocalSession(vm, self.cwd)


class _SSHSession:
    def __init__(self, client: paramiko.SSHClient) -> None:
        self._client = client

    def run(self, command: str, *, on_line: LineSink) -> int:
        transport = self._client.get_transport()
        assert transport is not None
        channel = transport.open_session()
        channel.set_combine_stderr(True)
        channel.exec_command(command)
        with channel.makefile("r") as out:
            for raw in out:
                text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
                on_line(text.rstrip("\n"))
        return channel.recv_exit_status()


@dataclasses.dataclass(frozen=True, kw_only=True)
class SSHTransport:
    """Runs the command over SSH with paramiko, checking host keys against `known_hosts`.

    Unknown host keys are rejected unless `accept_unknown_hosts` is set, which is only
    for trusted networks being set up for the first time.
    """

    user: str
    key_path: pathlib.Path | None = None
    known_hosts: pathlib.Path | None = None
    accept_unknown_hosts: bool = False
    connect_timeout_s: float = 10.0

    @contextlib.contextmanager
    def open(self, vm: VM) -> Iterator[Session]:
        client = paramiko.SSHClient()
        try:
            if self.known_hosts is not None:
                client.load_host_keys(str(self.known_hosts))
            else:
                client.load_system_host_keys()
            policy: paramiko.MissingHostKeyPolicy = (
                paramiko.AutoAddPolicy() if self.accept_unknown_hosts else paramiko.RejectPolicy()
            )
            client.set_missing_host_key_policy(policy)
            try:
                client.connect(
                    vm.host, port=vm.ssh_port, username=self.user,
                    key_filename=str(self.key_path) if self.key_path else None,
                    timeout=self.connect_timeout_s, banner_timeout=self.connect_timeout_s,
                    auth_timeout=self.connect_timeout_s, allow_agent=self.key_path is None,
                    look_for_keys=self.key_path is None,
                )
            except (paramiko.SSHException, OSError) as e:
                raise TransportUnavailableError(
                    f"ssh {self.user}@{vm.host}:{vm.ssh_port} failed: {type(e).__name__}: {e}"
                ) from e
            yield _SSHSession(client)
        finally:
            client.close()


def run_on_pool(
    *, selector: Selector, transport: Transport, command: str, on_line: LineSink,
    on_selection: Callable[[Selection], None],
) -> TaskResult:
    """Select a VM, run `command` there, and return the exit code with how the VM was found.

    `on_selection` hears about every VM chosen, including ones that then refuse a session.
    """
    refused: list[tuple[str, str]] = []
    # Each refusal removes a host from the candidates, so this ends within len(pool) turns.
    while True:
        try:
            selection = selector.select(exclude=frozenset(host for host, _ in refused))
        except NoReachableVMError as e:
            if refused:
                raise NoReachableVMError(pool=e.pool, rounds=1, results=[*e.results, *(
                    _refusal(host, reason) for host, reason in refused)]) from e
            raise
        on_selection(selection)
        try:
            with transport.open(selection.vm) as session:
                exit_code = session.run(command, on_line=on_line)
        except TransportUnavailableError as e:
            log.warning("VM %s answered its probe but refused a session: %s",
                        selection.vm.host, e)
            selector.report_failure(selection.vm, reason=str(e))
            refused.append((selection.vm.host, str(e)))
            continue
        return TaskResult(selection=selection, exit_code=exit_code, refused=tuple(refused))


def _refusal(host: str, reason: str) -> ProbeResult:
    return ProbeResult(host=host, reachable=False, rtt_ms=None, detail=reason, method="dispatch")
