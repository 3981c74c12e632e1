"""The VMs of a pool: host names, SSH ports and weights, parsed from a string or a JSON file.

The string form is what `JOBOPS_VMS` holds: `host[:sshport][*weight]` items separated by
commas, for example `10.0.0.4,10.0.0.5:2222*2`. An IPv6 address always goes in
brackets: `[fd00::5]:2222`, `[::1]`.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re

DEFAULT_SSH_PORT = 22

_ITEM = re.compile(
    r"^(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:*\[\]]+))(?::(?P<port>\d+))?(?:\*(?P<weight>\d+))?$"
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class VM:
    """One machine tasks can run on; `host` is also its identity in the cursor and the tags."""

    host: str
    ssh_port: int = DEFAULT_SSH_PORT
    weight: int = 1

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("a VM needs a host name or address; got an empty string")
        if not 0 < self.ssh_port < 65536:
            raise ValueError(
                f"VM {self.host!r} has SSH port {self.ssh_port}, which is not a TCP port: "
                "use 1 to 65535"
            )
        if self.weight < 1:
            raise ValueError(
                f"VM {self.host!r} has weight {self.weight}: weights are whole numbers of at "
                "least 1 (remove the VM from the list to stop sending it work)"
            )


def parse_vms(spec: str) -> tuple[VM, ...]:
    """The VMs listed in `spec`, in order, e.g. `"vm1,vm2:2222,vm3*3"`."""
    vms: list[VM] = []
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        match = _ITEM.match(item)
        if match is None:
            raise ValueError(
                f"cannot read VM entry {item!r} in {spec!r}: write host[:sshport][*weight], "
                "with IPv6 addresses in brackets, e.g. [fd00::5]:22*2"
            )
        host = match["v6"] or match["host"]
        port = int(match["port"]) if match["port"] else DEFAULT_SSH_PORT
        weight = int(match["weight"]) if match["weight"] else 1
        vms.append(VM(host=host.strip(), ssh_port=port, weight=weight))
    return _checked(vms, source=repr(spec))


def load_vms_file(path: pathlib.Path) -> tuple[VM, ...]:
    """The VMs in a JSON file holding a list of `{"host", "ssh_port"?, "weight"?}` objects."""
    try:
        entries = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"cannot read the VM list from {str(path)!r}: {e}") from e
    if not isinstance(entries, list):
        raise ValueError(
            f"the VM list in {str(path)!r} must be a JSON list of objects with a 'host' key; "
            f"got a {type(entries).__name__}"
        )
    vms: list[VM] = []
    for entry in entries:
        if not isinstance(entry, dict) or "host" not in entry:
            raise ValueError(
                f"entry {entry!r} in {str(path)!r} needs a 'host' key, and optionally "
                "'ssh_port' and 'weight'"
            )
        vms.append(
            VM(
                host=str(entry["host"]),
                ssh_port=int(entry.get("ssh_port", DEFAULT_SSH_PORT)),
                weight=int(entry.get("weight", 1)),
            )
        )
    return _checked(vms, source=repr(str(path)))


def _checked(vms: list[VM], *, source: str) -> tuple[VM, ...]:
    if not vms:
        raise ValueError(f"the VM list {source} names no VMs: give at least one host")
    seen: set[str] = set()
    for vm in vms:
        if vm.host in seen:
            raise ValueError(
                f"VM {vm.host!r} appears twice in {source}: list each host once and use a "
                "weight to send it more work"
            )
        seen.add(vm.host)
    return tuple(vms)
