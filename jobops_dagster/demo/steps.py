"""The steps of `make demo`, and the local services that `make demo` and `make dev` start."""

import contextlib
import dataclasses
import datetime as dt
import os
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import dagster as dg

from jobops_dagster.autosys.emulator import AutoSysEmulator, Faults, start_emulator
from jobops_dagster.defs.job_status_sensors import notification_files_sensor
from jobops_dagster.defs.tags import TAG_FILE_NAME, TAG_JOB_NAME
from jobops_dagster.vm_pool.local import StandInPool, stand_in_vms

# Dagster's console logger prints every event at DEBUG; the demo prints its own summary.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
DEMO_JOBS = ("PAYROLL.load_daily", "LEDGER.close", "REPORTS.build", "CRM.export")


@dataclasses.dataclass
class Services:
    autosys: AutoSysEmulator
    vms: StandInPool


@contextlib.contextmanager
def local_services() -> Iterator[Services]:
    """Start the AutoSys emulator and the stand-in VMs, and point the settings at them."""
    password = secrets.token_urlsafe(16)
    autosys = start_emulator(password=password)
    try:
        with stand_in_vms(count=3, down=1) as vms:
            os.environ.update(
                {
                    **autosys.client_env(),
                    "AUTOSYS_PASSWORD": password,
                    **vms.env(),
                    # Seconds, not the production minute, so the demo's second sync retries.
                    "AUTOSYS_BACKOFF_BASE_S": "0",
                }
            )
            yield Services(autosys=autosys, vms=vms)
    finally:
        autosys.stop()


@dataclasses.dataclass
class Flow:
    defs: dg.Definitions
    instance: dg.DagsterInstance
    services: Services

    def resources(self) -> dict[str, Any]:
        return dict(self.defs.resources or {})

    def ingest_notification_files(self) -> None:
        folder = self.resources()["notification_folder"].folder()
        now = dt.datetime.now(dt.UTC)
        for n, job in enumerate(DEMO_JOBS):
            body = {
                "version": 1,
                "job_name": job,
                "file_name": f"{job.lower()}.csv",
                "status": "failure" if n == 3 else "success",
                "executed_at": (now - dt.timedelta(minutes=5 * n)).isoformat(),
            }
            folder.write(f"legacy-{n}.json", body)
        folder.write("legacy-bad.json", {"version": 1, "job_name": "NO SPACES ALLOWED"})
        print(f"  wrote {len(DEMO_JOBS) + 1} notification files to {folder.root}")
        self._ingest()

    def dispatch_tasks(self) -> None:
        down = ", ".join(self.services.vms.down)
        print(f"  pool: {self.services.vms.spec}  (down: {down})")
        job = self.defs.resolve_job_def("run_task")
        used: list[str] = []
        for n in range(6):
            name = DEMO_JOBS[n % len(DEMO_JOBS)]
            config = {"job_name": name, "file_name": f"batch-{n}.csv", "command": f"echo task {n}"}
            result = job.execute_in_process(
                run_config={"ops": {"run_task_on_vm": {"config": config}}, **QUIET},
                instance=self.instance,
                tags={TAG_JOB_NAME: name, TAG_FILE_NAME: config["file_name"]},
                raise_on_error=False,
            )
            vm = result.output_for_node("run_task_on_vm") if result.success else "(failed)"
            used.append(vm)
            print(f"  task {n} ({name}) ran on {vm}")
            self._notify_run_finished(result)
        spread = ", ".join(f"{vm}: {count}" for vm, count in sorted(Counter(used).items()))
        print(f"  spread: {spread}; {down} was skipped every time")
        self._ingest()
        report = self.defs.resolve_implicit_global_asset_job_def().execute_in_process(
            run_config=QUIET,
            instance=self.instance,
            asset_selection=[dg.AssetKey("vm_load_report")],
        )
        print("  vm_load_report (the chart the UI shows):")
        for line in str(materialized(report)["chart"]).splitlines():
            print(f"    {line}")

    def sync_to_autosys(self) -> None:
        emulator = self.services.autosys
        job = self.defs.resolve_job_def("autosys_sync_job")
        # The first request fails with a 503; the row stays NO and the next run sends it again.
        emulator.set_faults(Faults(fail_next=1))
        for attempt in (1, 2):
            result = job.execute_in_process(
                run_config=QUIET, instance=self.instance, raise_on_error=False
            )
            meta = materialized(result)
            print(
                f"  sync run {attempt}: sent {meta['sent']}, accepted {meta['accepted']}, "
                f"failed {meta['failed_transient']}, still pending {meta['still_pending']} "
                "(a failed row, and any later status of its job, wait for the next run)"
            )
            emulator.set_faults(Faults())
        print(f"  AutoSys received {len(emulator.events())} events; final statuses:")
        for job_name, status in sorted(emulator.final_statuses().items()):
            print(f"    {job_name}: {status}")

    def show_table(self) -> None:
        table = self.resources()["job_status_table"].table()
        rows = table.read(
            ["job_name", "status", "vm", "source", "autosys_update_flag", "attempts"]
        ).to_pylist()
        print(f"  {'job':<20} {'status':<8} {'vm':<12} {'source':<18} flag attempts")
        for row in sorted(rows, key=lambda r: (r["source"], r["job_name"])):
            print(
                f"  {row['job_name']:<20} {row['status']:<8} {row['vm'] or '-':<12} "
                f"{row['source']:<18} {row['autosys_update_flag']:<4} {row['attempts']}"
            )

    def _notify_run_finished(self, result: dg.ExecuteInProcessResult) -> None:
        run = self.instance.get_run_by_id(result.run_id)
        assert run is not None
        if result.success:
            name, event = "task_success_notification_sensor", result.get_run_success_event()
        else:
            name, event = "task_failure_notification_sensor", result.get_run_failure_event()
        sensor = self.defs.resolve_sensor_def(name)
        context = dg.build_run_status_sensor_context(
            sensor_name=name, dagster_event=event, dagster_instance=self.instance,
            dagster_run=run, resources=self.resources(),
        )
        sensor(context)

    def _ingest(self) -> None:
        # Writers rename finished files into place, and the sensor still waits out min_age.
        wait = self.resources()["notification_folder"].min_age_seconds
        print(f"  waiting {wait:g} s: the sensor leaves files younger than min_age alone")
        time.sleep(wait)
        context = dg.build_sensor_context(instance=self.instance, resources=self.resources())
        result = notification_files_sensor(context)
        assert isinstance(result, dg.SensorResult)
        for observation in result.asset_events:
            reasons: dict[str, str] = observation.metadata["reasons"].value  # type: ignore[assignment]
            for name, reason in reasons.items():
                print(f"  rejected {name} (see rejected/{name}.reason.txt): {reason}")
        job = self.defs.resolve_job_def("ingest_notifications")
        for request in result.run_requests or []:
            outcome = job.execute_in_process(
                run_config={**request.run_config, **QUIET},
                partition_key=request.partition_key,
                tags=request.tags, instance=self.instance,
            )
            meta = materialized(outcome)
            print(
                f"  ingestion run for {request.partition_key}: {meta['rows_appended']} rows "
                f"appended, table version {meta['table_version']}, "
                f"{meta['files_archived']} files archived"
            )


def materialized(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    """The metadata values of the one asset a run materialized."""
    [event] = result.get_asset_materialization_events()
    return {key: value.value for key, value in event.materialization.metadata.items()}
