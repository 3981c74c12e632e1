"""Command line for the AutoSys emulator: serve until interrupted, announce the URL on stdout.

The password is read from an environment variable, never from the command line, where any
user could see it in the process list.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading

from jobops_dagster.autosys.emulator import AutoSysEmulator, EmulatorConfig, Faults
from jobops_dagster.autosys.rest import DEFAULT_EVENT_PATH


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m jobops_dagster.autosys.emulator",
        description="Serve a local AutoSys Web Services stand-in on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--username", default="jobops")
    parser.add_argument("--password-env", default="AUTOSYS_PASSWORD",
                        help="environment variable holding the password")
    parser.add_argument("--jobs", help="comma-separated job names it knows; default: any")
    parser.add_argument("--unknown-jobs", default="", help="comma-separated jobs to refuse")
    parser.add_argument("--tls", action="store_true", help="HTTPS with a self-signed cert")
    parser.add_argument("--event-path", default=DEFAULT_EVENT_PATH)
    parser.add_argument("--job-field", default="jobName")
    parser.add_argument("--status-field", default="jobStatus")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--error-rate", type=float, default=0.0, help="share answered 503")
    parser.add_argument("--timeout-rate", type=float, default=0.0)
    parser.add_argument("--reset-rate", type=float, default=0.0)
    parser.add_argument("--throttle-rate", type=float, default=0.0, help="share answered 429")
    parser.add_argument("--retry-after", type=int, default=1)
    parser.add_argument("--seed", type=int)
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    password = os.environ.get(args.password_env)
    if not password:
        sys.stderr.write(f"set {args.password_env} to the password clients must send\n")
        return 2
    config = EmulatorConfig(
        username=args.username,
        password=password,
        known_jobs=frozenset(args.jobs.split(",")) if args.jobs else None,
        event_path=args.event_path,
        job_field=args.job_field,
        status_field=args.status_field,
        tls=args.tls,
        faults=Faults(
            latency_s=args.latency_ms / 1000,
            error_rate=args.error_rate,
            timeout_rate=args.timeout_rate,
            reset_rate=args.reset_rate,
            throttle_rate=args.throttle_rate,
            retry_after_s=args.retry_after,
            unknown_jobs=frozenset(filter(None, args.unknown_jobs.split(","))),
            seed=args.seed,
        ),
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with AutoSysEmulator(config, port=args.port) as emulator:
        ca_bundle = str(emulator.ca_bundle) if emulator.ca_bundle else None
        sys.stdout.write(json.dumps({"url": emulator.url, "ca_bundle": ca_bundle}) + "\n")
        sys.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            stopped.wait()
    return 0
