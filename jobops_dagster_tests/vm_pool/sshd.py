"""A real OpenSSH server on 127.0.0.1 for one test, with keys generated for that test.

The server reads only its own config file in the test's directory (host key, authorized
keys and pid file there too), logs to stderr, and is ended by its PID. Running sshd as root
needs its privilege-separation directory, /run/sshd. It is created if missing and then left
in place: it is the directory the openssh-server package itself uses, and removing it would
break a test sshd that another test run started meanwhile.
"""

import contextlib
import dataclasses
import getpass
import os
import pathlib
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

SSHD = pathlib.Path("/usr/sbin/sshd")
PRIVSEP_DIR = pathlib.Path("/run/sshd")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Sshd:
    host: str
    port: int
    user: str
    client_key: pathlib.Path
    known_hosts: pathlib.Path
    log: pathlib.Path


def unavailable_reason() -> str | None:
    if not SSHD.exists():
        return f"{SSHD} is missing: install the openssh-server package (CI does)"
    if os.geteuid() != 0:
        return "the test sshd runs as root so that it may log in the test's own user"
    return None


def _write_key(path: pathlib.Path) -> str:
    """Write a new Ed25519 private key to `path` and return its OpenSSH public line."""
    key = ed25519.Ed25519PrivateKey.generate()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.OpenSSH,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH).decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_banner(port: int, proc: subprocess.Popen[bytes], log: pathlib.Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited with {proc.returncode}: {log.read_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as c:
            if c.recv(8).startswith(b"SSH-"):
                return
        time.sleep(0.05)
    raise RuntimeError(f"sshd did not answer on 127.0.0.1:{port} within 10s: {log.read_text()}")


@contextlib.contextmanager
def running_sshd(directory: pathlib.Path) -> Iterator[Sshd]:
    directory.mkdir(parents=True, exist_ok=True)
    host_key, client_key = directory / "host_ed25519", directory / "client_ed25519"
    host_public = _write_key(host_key)
    (directory / "authorized_keys").write_text(_write_key(client_key) + "\n")
    port = _free_port()
    (directory / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_public}\n")
    config = directory / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {host_key}",
        f"PidFile {directory / 'sshd.pid'}",
        f"AuthorizedKeysFile {directory / 'authorized_keys'}",
        "StrictModes no",
        "UsePAM no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "LogLevel VERBOSE",
        "",
    ]))
    PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    log = directory / "sshd.log"
    with log.open("wb") as log_file:
        proc = subprocess.Popen([str(SSHD), "-f", str(config), "-D", "-e"],
                                stdout=log_file, stderr=subprocess.STDOUT)
    try:
        _wait_for_banner(port, proc, log)
        yield Sshd(host="127.0.0.1", port=port, user=getpass.getuser(), client_key=client_key,
                   known_hosts=directory / "known_hosts", log=log)
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
