"""The `run_task` job end to end with the local transport and stand-in VMs on 127.0.0.x.

Each run goes through a real Dagster instance on disk, so the cursor, the run tags the
run-status sensor reads, the streamed log lines and the output metadata are the real ones.
"""

import pathlib
from collections.abc import Iterator

import dagster as dg
import pytest

from jobops_dagster.defs.tags import TAG_FILE_NAME, TAG_JOB_NAME, TAG_VM
from jobops_dagster.defs.vm_pool import run_task
from jobops_dagster.defs.vm_pool_resources import VMPoolResource, VMTransportResource
from jobops_dagster.vm_pool.local import StandInPool, stand_in_vms


@pytest.fixture
def pool() -> Iterator[StandInPool]:
    with stand_in_vms(count=3, down=1, first_address=71) as stand_ins:
        yield stand_ins


@pytest.fixture
def instance(tmp_path: pathlib.Path) -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.local_temp(tempdir=str(tmp_path)) as local:
        yield local


def launch(
    instance: dg.DagsterInstance, spec: str, command: str, *, job_name: str = "PAYROLL_LOAD",
) -> dg.ExecuteInProcessResult:
    return run_task.execute_in_process(
        instance=instance, raise_on_error=False,
        resources={"vm_pool": VMPoolResource(vms=spec, probe="tcp", probe_timeout_s=0.5),
                   "vm_transport": VMTransportResource(kind="local")},
        run_config={"ops": {"run_task_on_vm": {"config": {
            "job_name": job_name, "file_name": "payroll.csv", "command": command}}}},
    )


def messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [entry.user_message for entry in instance.all_logs(run_id)]


def test_run_task_success_tags_run_and_streams_output(
    instance: dg.DagsterInstance, pool: StandInPool
) -> None:
    result = launch(instance, pool.spec, "echo hello from $JOBOPS_VM")
    assert result.success
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    first = pool.vms[0].host
    assert run.tags[TAG_JOB_NAME] == "PAYROLL_LOAD"
    assert run.tags[TAG_FILE_NAME] == "payroll.csv"
    assert run.tags[TAG_VM] == first
    assert f"[{first}] hello from {first}" in messages(instance, result.run_id)
    output = next(e for e in result.all_node_events if e.is_successful_output)
    metadata = output.step_output_data.metadata
    assert metadata["vm"].value == first
    assert metadata["exit_code"].value == 0


def test_run_task_repeated_runs_skip_down_vm_and_alternate(
    instance: dg.DagsterInstance, pool: StandInPool
) -> None:
    chosen = []
    for _ in range(4):
        result = launch(instance, pool.spec, "true")
        assert result.success
        chosen.append(result.output_for_node("run_task_on_vm"))
    up = [vm.host for vm in pool.vms if vm.host not in pool.down]
    assert sorted(chosen) == sorted(up * 2)
    assert pool.down[0] not in chosen


def test_run_task_nonzero_exit_fails_run_and_keeps_vm_tag(
    instance: dg.DagsterInstance, pool: StandInPool
) -> None:
    result = launch(instance, pool.spec, "echo about to fail; exit 4")
    assert not result.success
    failure = result.failure_data_for_node("run_task_on_vm")
    assert failure is not None
    assert "exited with code 4 on VM 127.0.0.71" in str(failure.error and failure.error.message)
    run = instance.get_run_by_id(result.run_id)
    assert run is not None and run.tags[TAG_VM] == "127.0.0.71"


def test_run_task_no_reachable_vm_fails_naming_every_host(
    instance: dg.DagsterInstance, pool: StandInPool
) -> None:
    result = launch(instance, "127.0.0.81:2241,127.0.0.82:2241", "true")
    assert not result.success
    failure = result.failure_data_for_node("run_task_on_vm")
    assert failure is not None and failure.error is not None
    for host in ("127.0.0.81", "127.0.0.82"):
        assert f"{host}: tcp/2241: connection refused" in failure.error.message


def test_run_task_invalid_job_name_fails_before_selecting(
    instance: dg.DagsterInstance, pool: StandInPool
) -> None:
    result = launch(instance, pool.spec, "true", job_name="not a job name")
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    assert run is not None and TAG_VM not in run.tags
