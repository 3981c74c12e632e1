"""A stand-in `sendevent` binary that records each argument list, for tests and the demo.

Behaviour comes from the environment, as a real binary's would from its config:
`FAKE_SENDEVENT_LOG` (JSON-lines file to append to, required), `FAKE_SENDEVENT_KNOWN_JOBS`
(comma-separated; other jobs are refused as unknown) and `FAKE_SENDEVENT_EXIT` (force an
exit status, to mimic an outage).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

_SCRIPT = """#!{python}
import sys
from jobops_dagster.autosys.fake_sendevent import main
sys.exit(main(sys.argv[1:]))
"""


def install(directory: Path) -> Path:
    """Write an executable named `sendevent` into `directory` and return its path."""
    path = directory / "sendevent"
    path.write_text(_SCRIPT.format(python=sys.executable))
    path.chmod(0o755)
    return path


def read_log(path: Path) -> list[list[str]]:
    """Every argument list the fake was called with, oldest first."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def main(argv: list[str]) -> int:
    log_path = Path(os.environ["FAKE_SENDEVENT_LOG"])
    with log_path.open("a") as handle:
        handle.write(json.dumps(argv) + "\n")
    forced = os.environ.get("FAKE_SENDEVENT_EXIT")
    if forced:
        sys.stderr.write("event server unavailable\n")
        return int(forced)
    known = os.environ.get("FAKE_SENDEVENT_KNOWN_JOBS")
    job = argv[argv.index("-J") + 1] if "-J" in argv else ""
    if known is not None and job not in known.split(","):
        sys.stderr.write(f"job {job} does not exist\n")
        return 1
    return 0
