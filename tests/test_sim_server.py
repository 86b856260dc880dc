"""The simulator as a server: injected flag failures, misbehaving endpoints (drip, hang), a stop that
waits for no one, loopback only, clients that vanish mid-request, and ``cockpit sim`` itself."""

from __future__ import annotations

import json
import math
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from cockpit.sim.server import SimServer, Simulator, serve
from tests.test_sim import AUTH, DLQ, HB, FakeClock, make


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[tuple[SimServer, httpx.Client]]:
    yield from make(clock)


def test_injected_flag_failures(sim):
    _, c = sim
    c.post("/api/sim/faults", json={"flag_fail": 2, "status": 503})
    codes = [c.post(f"/api/flags/{DLQ}/off", headers=AUTH).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    c.post("/api/sim/faults", json={"flag_missing": HB})
    assert c.get(f"/api/flags/{HB}", headers=AUTH).status_code == 404
    assert [f["name"] for f in c.get("/api/flags", headers=AUTH).json()["flags"]] == [DLQ]
    c.post("/api/sim/faults", json={"latency_ms": 300})
    t0 = time.monotonic()
    c.get(f"/api/flags/{DLQ}", headers=AUTH)
    assert time.monotonic() - t0 >= 0.3
    c.post("/api/sim/faults", json={"reset": True})
    t0 = time.monotonic()
    assert c.get(f"/api/flags/{HB}", headers=AUTH).status_code == 200
    assert time.monotonic() - t0 < 0.3


def test_bad_endpoints(sim):
    _server, c = sim
    r = c.get("/bad/notjson")
    assert r.status_code == 200 and r.headers["content-type"] == "text/html"
    with pytest.raises(ValueError):
        r.json()
    assert r.status_code == 200
    assert math.isnan(json.loads(c.get("/bad/nan").text)["value"])
    with pytest.raises(ValueError):
        json.loads(c.get("/bad/nan").text, parse_constant=lambda s: (_ for _ in ()).throw(ValueError(s)))
    assert c.get("/bad/string").json() == {"value": "abc"}
    huge = c.get("/bad/huge")
    assert len(huge.content) > 5_000_000 and len(huge.json()["items"]) == 5120
    r = c.get("/bad/status/502")
    assert r.status_code == 502 and "error" in r.json()
    with pytest.raises(httpx.TransportError):
        c.get("/bad/reset")


def test_drip_and_hang_do_not_block_other_requests(sim):
    server, c = sim
    drip = socket.create_connection((server.host, server.port), timeout=5)
    drip.sendall(b"GET /bad/drip HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        with httpx.Client(base_url=server.url, timeout=httpx.Timeout(5, read=1.0)) as slow:
            t0 = time.monotonic()
            with pytest.raises(httpx.ReadTimeout):
                slow.get("/bad/hang")
            assert time.monotonic() - t0 < 3
        # the drip and the hang are still being served on their threads; others answer at once
        t0 = time.monotonic()
        assert c.get("/health").status_code == 200
        assert c.get("/api/qc/debug", headers=AUTH).status_code == 200
        assert time.monotonic() - t0 < 0.5
    finally:
        drip.close()


def test_drip_sends_one_byte_per_second(sim):
    server, _ = sim
    with socket.create_connection((server.host, server.port), timeout=5) as s:
        s.sendall(b"GET /bad/drip HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(2.5)
        s.settimeout(0.2)
        data = s.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Content-Length: 1024" in head
    assert 1 <= len(body) <= 4


def test_stop_does_not_wait_for_hanging_requests(clock):
    server = serve(Simulator(clock=clock))
    sock = socket.create_connection((server.host, server.port))
    sock.sendall(b"GET /bad/hang HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.2)
    t0 = time.monotonic()
    server.stop()
    sock.close()
    assert time.monotonic() - t0 < 3
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/health", timeout=1)


def test_binds_loopback_only(sim):
    server, _ = sim
    assert server.httpd.server_address[0] == "127.0.0.1"
    assert server.url.startswith("http://127.0.0.1:")


def test_a_client_that_vanishes_mid_request_is_no_error(sim, capfd):
    """A cockpit killed mid-request resets its connection: no traceback on the terminal (the demo's too)."""
    server, client = sim
    host, port = server.httpd.server_address[:2]
    for _ in range(3):
        conn = socket.create_connection((host, port))
        conn.sendall(b"GET /health HTTP/1.1\r\nHost: sim\r\n")  # the headers never end
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        time.sleep(0.05)
        conn.close()  # a reset, as from a killed process
    time.sleep(0.2)
    assert client.get("/health").status_code == 200  # still serving
    err = capfd.readouterr().err
    assert "Traceback" not in err and "ConnectionResetError" not in err


def test_main_prints_url_and_token_and_stops_on_sigterm(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = f"import sys; from cockpit.sim.server import main; sys.exit(main({port}, 'healthy', 2.0))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        env={"SIM_TOKEN": "tok-123", "PATH": "/usr/bin:/bin"},
    )
    try:
        lines = [proc.stdout.readline() for _ in range(3)]  # type: ignore[union-attr]
        assert f"http://127.0.0.1:{port}" in lines[0]
        assert "APP_TOKEN=tok-123" in "".join(lines)
        r = httpx.get(f"http://127.0.0.1:{port}/api/flags", headers={"Authorization": "Bearer tok-123"})
        assert r.status_code == 200
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
