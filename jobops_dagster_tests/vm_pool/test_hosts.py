"""Parsing the pool's VM list from `JOBOPS_VMS` strings and JSON files, and its errors."""

import json
import pathlib

import pytest

from jobops_dagster.vm_pool.hosts import VM, load_vms_file, parse_vms


def test_parse_vms_ports_weights_and_ipv6_are_read() -> None:
    assert parse_vms(" vm1, vm2:2222 ,vm3*3,[fd00::5]:2200*2,[::1]") == (
        VM(host="vm1"),
        VM(host="vm2", ssh_port=2222),
        VM(host="vm3", weight=3),
        VM(host="fd00::5", ssh_port=2200, weight=2),
        VM(host="::1"),
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "names no VMs"),
        ("vm1,vm1", "appears twice"),
        ("vm1*0", "weight 0"),
        ("vm1:70000", "not a TCP port"),
        ("vm1:ssh", "cannot read VM entry 'vm1:ssh'"),
    ],
)
def test_parse_vms_bad_spec_raises_with_the_fix(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_vms(spec)


def test_load_vms_file_reads_hosts_ports_and_weights(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "vms.json"
    path.write_text(json.dumps([{"host": "a"}, {"host": "b", "ssh_port": 2022, "weight": 4}]))
    assert load_vms_file(path) == (VM(host="a"), VM(host="b", ssh_port=2022, weight=4))


def test_load_vms_file_entry_without_host_names_the_entry(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "vms.json"
    path.write_text(json.dumps([{"name": "a"}]))
    with pytest.raises(ValueError, match="needs a 'host' key"):
        load_vms_file(path)
