"""The HTTP side of the AutoSys emulator: a threaded server on 127.0.0.1, optionally behind
TLS, whose handler turns each request into a call on `AutoSysEmulator`."""

from __future__ import annotations

import http.server
import json
import logging
import socket
import ssl
import struct
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobops_dagster.autosys.emulator import AutoSysEmulator

log = logging.getLogger(__name__)
STATUS_PATH = "/AEWS/job-status/"


class EmulatorServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], *, emulator: AutoSysEmulator) -> None:
        super().__init__(address, _Handler)
        self.emulator = emulator
        self.ssl_context: ssl.SSLContext | None = None

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.ssl_context is not None:
            # The handshake runs in the handler's thread, so a slow client stalls no one else.
            sock = self.ssl_context.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False
            )
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("AutoSys emulator connection from %s ended with an error", client_address,
                  exc_info=True)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: EmulatorServer

    def setup(self) -> None:
        super().setup()
        # Without this, Nagle's algorithm and delayed ACKs add ~40 ms to each keep-alive call.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("AutoSys emulator: " + format, *args)

    def _reply(self, code: int, payload: dict[str, Any], headers: dict[str, str] | None = None):
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        emulator = self.server.emulator
        if not emulator.authorised(self.headers.get("Authorization")):
            self._reply(401, {"error": "unauthorized"}, {"WWW-Authenticate": 'Basic realm="AEWS"'})
        elif self.path.startswith(STATUS_PATH):
            job = self.path[len(STATUS_PATH):]
            status = emulator.final_statuses().get(job)
            if status is None:
                self._reply(404, {"error": f"no status for job {job}"})
            else:
                self._reply(200, {emulator.config.job_field: job, "status": status})
        else:
            self._reply(404, {"error": f"no such path {self.path}"})

    def do_POST(self) -> None:
        with self.server.emulator.in_flight():
            self._post()

    def _post(self) -> None:
        emulator = self.server.emulator
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path != emulator.config.event_path:
            self._reply(404, {"error": f"no such path {self.path}"})
            return
        faults = emulator.faults
        if faults.latency_s:
            time.sleep(faults.latency_s)
        try:
            body = json.loads(raw or b"{}")
            body = body if isinstance(body, dict) else {}
        except ValueError:
            body = {}
        fault = emulator.draw_fault()
        if fault == "reset":
            emulator.record(body, "reset", applied=False)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if fault in ("server_error", "throttled"):
            emulator.record(body, fault, applied=False)
            if fault == "throttled":
                self._reply(429, {"error": "slow down"},
                            {"Retry-After": str(faults.retry_after_s)})
            else:
                self._reply(503, {"error": "service unavailable"})
            return
        if not emulator.authorised(self.headers.get("Authorization")):
            emulator.record(body, "unauthorized", applied=False)
            self._reply(401, {"error": "unauthorized"}, {"WWW-Authenticate": 'Basic realm="AEWS"'})
            return
        verdict = emulator.judge(body)
        if verdict != "accepted":
            emulator.record(body, verdict, applied=False)
            code = 404 if verdict == "unknown_job" else 400
            self._reply(code, {"error": f"{verdict}: {body.get(emulator.config.job_field)}"})
            return
        emulator.record(body, "timeout" if fault == "timeout" else "accepted", applied=True)
        if fault == "timeout":
            time.sleep(faults.stall_s)
        try:
            self._reply(201, {"status": "queued"})
        except OSError:
            self.close_connection = True

