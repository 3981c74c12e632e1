"""`make dev`: the Dagster UI and daemon on 127.0.0.1, with the local AutoSys emulator and
stand-in VMs running beside them. Ctrl-C stops all of it."""

import os
import signal
import subprocess
import sys

import dagster as dg

from jobops_dagster.defs.autosys_sync import limit_autosys_sync_pool
from jobops_dagster.demo.steps import local_services

PORT = os.environ.get("JOBOPS_DEV_PORT", "3000")


def main() -> int:
    with dg.DagsterInstance.get() as instance:
        limit_autosys_sync_pool(instance)
    with local_services() as services:
        print(f"AutoSys emulator: {services.autosys.url}", flush=True)
        print(f"Stand-in VMs: {services.vms.spec} (down: {', '.join(services.vms.down)})")
        print(f"Dagster UI: http://127.0.0.1:{PORT}", flush=True)
        # Its own process group: dagster dev ignores SIGTERM otherwise, and Ctrl-C here must
        # reach the webserver and the daemon together.
        dagster = subprocess.Popen(
            [sys.executable, "-m", "dagster", "dev", "-h", "127.0.0.1", "-p", PORT,
             "-w", "workspace.yaml"],
            start_new_session=True,
        )
        signals = 0

        def stop(signum: int, frame: object) -> None:
            nonlocal signals
            signals += 1
            if signals == 1:
                print("Stopping Dagster; press Ctrl-C again to kill it now.", flush=True)
            os.killpg(dagster.pid, signal.SIGINT if signals == 1 else signal.SIGKILL)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        return dagster.wait()


if __name__ == "__main__":
    sys.exit(main())
