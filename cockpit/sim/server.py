"""A simulated AlokickFlow service on 127.0.0.1, for the demo and for tests (stdlib only).

Endpoints (JSON unless said; "auth" needs ``Authorization: Bearer <token>``, else 401):

* ``GET /health`` -> ``{"status": "healthy"|"degraded", "uptimeSeconds"}``
* ``GET /api/admin/dlq?stats=true`` (auth) -> ``{"total", "pending", "oldestAgeSeconds"}``
* ``GET /api/qc/debug`` (auth) -> ``{"watchdogMetrics": {heartbeatMisses, jobsMovedToDlq,
  stuckJobsDetected, falsePositiveRate}}``
* ``GET /metrics`` Prometheus text format
* ``GET /api/flags``, ``GET /api/flags/{name}``, ``POST /api/flags/{name}/on|off``,
  ``PUT /api/flags/{name}`` ``{"enabled": bool, "percent": 0..100}`` (auth; faults apply first)
* ``GET /api/sim/figures`` -> ``{"errorRatePercent", "p99LatencyMs"}``: what Prometheus would compute
  from ``/metrics`` (the demo reads it when no Prometheus binary is installed)
* ``GET /api/sim/state``, ``POST /api/sim/scenario``, ``POST /api/sim/faults`` (no auth)
* ``/bad/notjson``, ``/bad/nan``, ``/bad/string``, ``/bad/drip``, ``/bad/huge``, ``/bad/reset``,
  ``/bad/hang``, ``/bad/status/{code}`` misbehave on purpose.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import signal
import socket
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import urlsplit

from cockpit.sim.model import FLAG_NAMES, SCENARIOS, Simulator

log = logging.getLogger(__name__)

__all__ = ["SCENARIOS", "SimServer", "Simulator", "main", "serve"]

_DRIP_HEAD = '{"value": 1, "padding": "'
DRIP_BODY = _DRIP_HEAD + "x" * (1024 - len(_DRIP_HEAD) - 2) + '"}'  # exactly 1 KiB of valid JSON
_HUGE: bytes | None = None


def _huge_body() -> bytes:
    global _HUGE
    if _HUGE is None:
        item = '"' + "x" * 1022 + '"'
        _HUGE = ('{"items": [' + ",".join([item] * 5 * 1024) + "]}").encode()
    return _HUGE


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], sim: Simulator) -> None:
        self.sim = sim
        self.stopping = threading.Event()
        super().__init__(addr, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client gone mid-request (a killed cockpit, a dropped keep-alive) is no error; anything else is
        one log line, not a traceback printed over the terminal (the demo's simulator shares the dashboard's)."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError | TimeoutError):
            log.warning("simulator: a request from %s failed: %s: %s", client_address[0], type(exc).__name__, exc)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer
    server_version = "AlokickFlowSim/1.0"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall between them

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # ------------------------------------------------------------------ helpers
    @property
    def sim(self) -> Simulator:
        return self.server.sim

    def send_body(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, obj: Any) -> None:
        self.send_body(status, json.dumps(obj).encode())

    def read_json(self) -> Any:
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        return json.loads(raw) if raw else None

    def authorized(self) -> bool:
        got = self.headers.get("Authorization", "")
        if hmac.compare_digest(got.encode(), f"Bearer {self.sim.token}".encode()):
            return True
        self.send_json(401, {"error": "unauthorized"})
        return False

    # ------------------------------------------------------------------ dispatch
    def do_GET(self) -> None:
        self.dispatch("GET")

    def do_POST(self) -> None:
        self.dispatch("POST")

    def do_PUT(self) -> None:
        self.dispatch("PUT")

    def do_DELETE(self) -> None:
        self.dispatch("DELETE")

    def dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path.rstrip("/") or "/"
        self.sim.count_request(path)
        try:
            self.route(method, path)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def route(self, method: str, path: str) -> None:
        sim = self.sim
        parts = path.strip("/").split("/")
        if path == "/health" and method == "GET":
            return self.send_json(200, sim.health())
        if path == "/metrics" and method == "GET":
            return self.send_body(200, sim.metrics_text().encode(), "text/plain; version=0.0.4")
        if path == "/api/admin/dlq" and method == "GET":
            if self.authorized():
                self.send_json(200, sim.dlq_stats())
            return None
        if path == "/api/qc/debug" and method == "GET":
            if self.authorized():
                self.send_json(200, sim.watchdog())
            return None
        if parts[:2] == ["api", "flags"]:
            return self.flag_api(method, parts[2:])
        if parts[:2] == ["api", "sim"]:
            return self.control(method, parts[2:])
        if parts[0] == "bad":
            return self.bad(parts[1:])
        return self.send_json(404, {"error": "not found"})

    # ------------------------------------------------------------------ flag API
    def flag_api(self, method: str, rest: list[str]) -> None:
        sim = self.sim
        with sim.lock:
            latency = sim.faults["latency_ms"] / 1000.0
            fail = 0
            if sim.faults["flag_fail"] > 0:
                sim.faults["flag_fail"] -= 1
                fail = int(sim.faults["status"])
            missing = set(sim.faults["flag_missing"])
        if latency > 0 and self.server.stopping.wait(latency):
            return None
        if fail:
            return self.send_json(fail, {"error": f"injected fault {fail}"})
        if not self.authorized():
            return None
        if not rest and method == "GET":
            return self.send_json(200, {"flags": sim.flag_list()})
        name = rest[0] if rest else ""
        if name not in FLAG_NAMES or name in missing:
            return self.send_json(404, {"error": "flag not found"})
        action = rest[1:]
        if method == "GET" and not action:
            return self.send_json(200, sim.flags[name].as_dict())
        if method == "POST" and action == ["on"]:
            return self.send_json(200, sim.set_flag(name, True, 100))
        if method == "POST" and action == ["off"]:
            return self.send_json(200, sim.set_flag(name, False, 0))
        if method == "PUT" and not action:
            try:
                body = self.read_json()
            except ValueError:
                return self.send_json(400, {"error": "body is not JSON"})
            cur = sim.flags[name]
            if not isinstance(body, dict) or not ({"enabled", "percent"} & body.keys()):
                return self.send_json(400, {"error": 'expected {"enabled": bool, "percent": 0..100}'})
            enabled, percent = body.get("enabled", cur.enabled), body.get("percent", cur.percent)
            if not isinstance(enabled, bool):
                return self.send_json(400, {"error": "enabled must be a boolean"})
            if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
                return self.send_json(400, {"error": "percent must be an integer 0..100"})
            return self.send_json(200, sim.set_flag(name, enabled, percent))
        return self.send_json(405, {"error": "method not allowed"})

    # ------------------------------------------------------------------ control
    def control(self, method: str, rest: list[str]) -> None:
        sim = self.sim
        if rest == ["state"] and method == "GET":
            return self.send_json(200, sim.state())
        if rest == ["figures"] and method == "GET":
            return self.send_json(200, sim.figures())
        if method != "POST" or rest not in (["scenario"], ["faults"]):
            return self.send_json(404, {"error": "not found"})
        try:
            body = self.read_json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self.send_json(400, {"error": "expected a JSON object"})
        if rest == ["scenario"]:
            try:
                sim.set_scenario(str(body.get("scenario")))
            except ValueError as e:
                return self.send_json(400, {"error": str(e), "scenarios": list(SCENARIOS)})
            return self.send_json(200, {"scenario": sim.scenario})
        with sim.lock:
            if body.get("reset"):
                sim.reset_faults()
            if "flag_fail" in body:
                sim.faults["flag_fail"] = int(body["flag_fail"])
                sim.faults["status"] = int(body.get("status", 503))
            if "latency_ms" in body:
                sim.faults["latency_ms"] = max(0, int(body["latency_ms"]))
            if "flag_missing" in body:
                sim.faults["flag_missing"].append(str(body["flag_missing"]))
            faults = dict(sim.faults, flag_missing=list(sim.faults["flag_missing"]))
        return self.send_json(200, {"faults": faults})

    # ------------------------------------------------------------------ misbehaving endpoints
    def bad(self, rest: list[str]) -> None:
        kind = rest[0] if rest else ""
        stopping = self.server.stopping
        if kind == "notjson":
            return self.send_body(200, b"<html><body>Not JSON</body></html>", "text/html")
        if kind == "nan":
            return self.send_body(200, b'{"value": NaN}')
        if kind == "string":
            return self.send_body(200, b'{"value": "abc"}')
        if kind == "huge":
            return self.send_body(200, _huge_body())
        if kind == "status" and len(rest) > 1 and rest[1].isdigit() and 200 <= int(rest[1]) <= 599:
            code = int(rest[1])
            return self.send_json(code, {"error": f"simulated status {code}"})
        if kind == "reset":
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return None
        if kind == "hang":
            stopping.wait(60)
            return self.send_json(200, {"value": "late"})
        if kind == "drip":
            body = DRIP_BODY.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.flush()
            for i in range(len(body)):
                if stopping.is_set():
                    break
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                if stopping.wait(1.0):
                    break
            self.close_connection = True
            return None
        return self.send_json(404, {"error": "not found"})


class SimServer:
    """The simulator served over HTTP from a daemon thread. Binds at construction (``.port`` is known)."""

    def __init__(self, sim: Simulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sim = sim
        self.httpd = _HTTPServer((host, port), sim)
        self.host = host
        self.port: int = self.httpd.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> SimServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="sim-server", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.stopping.set()
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.httpd.server_close()

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve(sim: Simulator, host: str = "127.0.0.1", port: int = 0) -> SimServer:
    """Start serving ``sim``; returns the running server (``.stop()`` it, or use it as a context manager)."""
    return SimServer(sim, host, port).start()


def main(port: int = 8700, scenario: str = "healthy", speed: float = 1.0) -> int:
    """Run the simulator in the foreground until Ctrl-C or SIGTERM; returns the exit code."""
    token = os.environ.get("SIM_TOKEN") or "sim-token"
    try:
        sim = Simulator(scenario=scenario, speed=speed, token=token)
        server = SimServer(sim, "127.0.0.1", port)
    except (ValueError, OSError) as e:
        print(f"cockpit sim: {e}", flush=True)
        return 2
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    old = signal.signal(signal.SIGTERM, on_signal)
    server.start()
    print(f"AlokickFlow simulator ({scenario}, speed {speed}x) listening on {server.url}", flush=True)
    print(f"export APP_URL={server.url}", flush=True)
    print(f"export APP_TOKEN={token}", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, old)
    print("simulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
