"""The AlokickFlow simulator, over real HTTP (no mocks). Time is driven by a fake clock."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import httpx
import pytest

from cockpit.sim.server import SCENARIOS, SimServer, Simulator, serve

DLQ = "FEATURE_FLAG_DLQ_ENABLED"
HB = "FEATURE_FLAG_JOB_HEARTBEAT"
AUTH = {"Authorization": "Bearer sim-token"}


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make(clock: FakeClock, scenario: str = "healthy") -> Iterator[tuple[SimServer, httpx.Client]]:
    server = serve(Simulator(scenario=scenario, clock=clock))
    try:
        with httpx.Client(base_url=server.url, timeout=5) as client:
            yield server, client
    finally:
        server.stop()


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[tuple[SimServer, httpx.Client]]:
    yield from make(clock)


@pytest.fixture
def flood(clock: FakeClock) -> Iterator[tuple[SimServer, httpx.Client]]:
    yield from make(clock, "dlq-flood")


def parse_metrics(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, value = line.rsplit(" ", 1)
        out[name] = float(value)
    return out


def p99_ms(before: dict[str, float], after: dict[str, float]) -> float:
    """histogram_quantile(0.99, increase(buckets)) as Prometheus computes it (linear in a bucket)."""
    prefix = "alokickflow_http_request_duration_seconds_bucket"
    buckets = []
    for key, v in after.items():
        if key.startswith(prefix):
            le = key.split('le="')[1].rstrip('"}')
            buckets.append((math.inf if le == "+Inf" else float(le), v - before[key]))
    buckets.sort()
    total = buckets[-1][1]
    rank = 0.99 * total
    prev_le, prev_c = 0.0, 0.0
    for le, c in buckets:
        if c >= rank:
            return 1000 * (prev_le + (le - prev_le) * (rank - prev_c) / (c - prev_c))
        prev_le, prev_c = le, c
    raise AssertionError("no bucket")


# ---------------------------------------------------------------- basics and auth


def test_health_and_uptime_follow_the_clock(sim, clock):
    _, c = sim
    clock.advance(42)
    body = c.get("/health").json()
    assert body == {"status": "healthy", "uptimeSeconds": 42.0}


@pytest.mark.parametrize(
    "path", ["/api/admin/dlq?stats=true", "/api/qc/debug", "/api/flags", f"/api/flags/{DLQ}"]
)
def test_auth_is_required(sim, path):
    _, c = sim
    assert c.get(path).status_code == 401
    assert c.get(path).json() == {"error": "unauthorized"}
    assert c.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get(path, headers=AUTH).status_code == 200


def test_flag_writes_are_logged(sim, clock):
    _, c = sim
    flags = c.get("/api/flags", headers=AUTH).json()["flags"]
    assert {f["name"]: (f["enabled"], f["percent"]) for f in flags} == {DLQ: (False, 0), HB: (False, 0)}
    clock.advance(10)
    r = c.put(f"/api/flags/{DLQ}", json={"enabled": True, "percent": 5}, headers=AUTH)
    assert r.json() == {"name": DLQ, "enabled": True, "percent": 5}
    clock.advance(10)
    assert c.post(f"/api/flags/{DLQ}/on", headers=AUTH).json() == {
        "name": DLQ,
        "enabled": True,
        "percent": 100,
    }
    assert c.post(f"/api/flags/{DLQ}/off", headers=AUTH).json() == {
        "name": DLQ,
        "enabled": False,
        "percent": 0,
    }
    assert c.get(f"/api/flags/{DLQ}", headers=AUTH).json()["enabled"] is False
    state = c.get("/api/sim/state").json()
    writes = [(w["t"], w["name"], w["before"]["percent"], w["after"]["percent"]) for w in state["writes"]]
    assert writes == [(10.0, DLQ, 0, 5), (20.0, DLQ, 5, 100), (20.0, DLQ, 100, 0)]
    assert state["requests"][f"/api/flags/{DLQ}"] >= 2


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"enabled": "yes"}', b'{"percent": 101}', b'{"percent": -1}', b"{}"]
)
def test_bad_flag_bodies_are_rejected(sim, body):
    _, c = sim
    r = c.put(f"/api/flags/{HB}", content=body, headers=AUTH)
    assert r.status_code == 400
    assert c.get("/api/sim/state").json()["writes"] == []


def test_unknown_flag_is_404(sim):
    _, c = sim
    r = c.get("/api/flags/NOPE", headers=AUTH)
    assert (r.status_code, r.json()) == (404, {"error": "flag not found"})
    assert c.post("/api/flags/NOPE/on", headers=AUTH).status_code == 404


# ---------------------------------------------------------------- behaviour driven by flags


def dlq_total(c: httpx.Client) -> int:
    return int(c.get("/api/admin/dlq", params={"stats": "true"}, headers=AUTH).json()["total"])


def test_dlq_flood_climbs_at_100_and_recovers_when_off(flood, clock):
    _, c = flood
    clock.advance(600)
    assert dlq_total(c) == 0, "no entries while the flag is off"
    c.post(f"/api/flags/{DLQ}/on", headers=AUTH)
    seen = []
    for _ in range(10):
        clock.advance(60)
        seen.append(dlq_total(c))
    assert seen == sorted(seen) and seen[-1] > 10, seen
    stats = c.get("/api/admin/dlq?stats=true", headers=AUTH).json()
    assert stats["oldestAgeSeconds"] > 0 and 0 < stats["pending"] <= stats["total"]
    c.post(f"/api/flags/{DLQ}/off", headers=AUTH)
    clock.advance(60)
    draining = dlq_total(c)
    assert draining < seen[-1]
    clock.advance(600)
    assert dlq_total(c) == 0


def test_dlq_flood_scales_with_percent(flood, clock):
    _, c = flood
    c.put(f"/api/flags/{DLQ}", json={"enabled": True, "percent": 5}, headers=AUTH)
    clock.advance(600)
    at5 = dlq_total(c)
    c.put(f"/api/flags/{DLQ}", json={"enabled": True, "percent": 100}, headers=AUTH)
    clock.advance(600)
    assert at5 <= 1 < 15 <= dlq_total(c) - at5


def test_healthy_dlq_stays_small(sim, clock):
    _, c = sim
    c.post(f"/api/flags/{DLQ}/on", headers=AUTH)
    for _ in range(12):
        clock.advance(600)
        assert 0 <= dlq_total(c) <= 2


def watchdog(c: httpx.Client) -> dict:
    return c.get("/api/qc/debug", headers=AUTH).json()["watchdogMetrics"]


@pytest.mark.parametrize(("scenario", "low", "high"), [("heartbeat-misses", 15, 25), ("healthy", 0, 2)])
def test_heartbeat_misses_per_hour(clock, scenario, low, high):
    for _, c in make(clock, scenario):
        clock.advance(3600)
        assert watchdog(c)["heartbeatMisses"] == 0, "counters only grow while the flag is on"
        c.post(f"/api/flags/{HB}/on", headers=AUTH)
        clock.advance(3600)
        w = watchdog(c)
        assert low <= w["heartbeatMisses"] <= high
        assert w["jobsMovedToDlq"] <= w["heartbeatMisses"]
        c.post(f"/api/flags/{HB}/off", headers=AUTH)
        clock.advance(3600)
        assert watchdog(c)["heartbeatMisses"] == w["heartbeatMisses"]


def test_heartbeat_misses_scenario_breaches_thresholds(clock):
    for _, c in make(clock, "heartbeat-misses"):
        c.post(f"/api/flags/{HB}/on", headers=AUTH)
        clock.advance(3600)
        w = watchdog(c)
        assert w["heartbeatMisses"] > 5 and w["jobsMovedToDlq"] > 3 and w["falsePositiveRate"] > 1


def test_metrics_parse_and_counters_are_monotonic(sim, clock):
    _, c = sim
    snaps = []
    for i in range(30):
        clock.advance(1)
        if i == 10:
            c.post(f"/api/flags/{DLQ}/on", headers=AUTH)
            c.post(f"/api/flags/{HB}/on", headers=AUTH)
        r = c.get("/metrics")
        assert r.headers["content-type"].startswith("text/plain")
        snaps.append(parse_metrics(r.text))
    counters = [k for k in snaps[0] if k.endswith(("_total", "_bucket")) or k.endswith('_total{code="200"}')]
    counters += [k for k in snaps[0] if "_total{" in k or "_bucket{" in k or k.endswith("_count")]
    assert 'alokickflow_http_requests_total{code="500"}' in counters
    for a, b in itertools.pairwise(snaps):
        for k in counters:
            assert b[k] >= a[k], k
    last = snaps[-1]
    ok, err = (
        last['alokickflow_http_requests_total{code="200"}'],
        last['alokickflow_http_requests_total{code="500"}'],
    )
    assert ok > 1000 and 0 < err / (ok + err) < 0.01
    assert (
        last['alokickflow_http_request_duration_seconds_bucket{le="+Inf"}']
        == last["alokickflow_http_request_duration_seconds_count"]
    )
    assert 200 <= p99_ms(snaps[0], last) <= 300


def test_latency_regression_follows_the_dlq_flag(clock):
    for _, c in make(clock, "latency-regression"):
        m0 = parse_metrics(c.get("/metrics").text)
        clock.advance(300)
        m1 = parse_metrics(c.get("/metrics").text)
        c.post(f"/api/flags/{DLQ}/on", headers=AUTH)
        clock.advance(300)
        m2 = parse_metrics(c.get("/metrics").text)
        base, regressed = p99_ms(m0, m1), p99_ms(m1, m2)
        assert 1.3 < regressed / base < 1.5, (base, regressed)


def test_flapping_alternates(clock):
    for _, c in make(clock, "flapping"):
        statuses = []
        for _ in range(4):
            clock.advance(60)
            statuses.append(c.get("/health").json()["status"])
            clock.advance(60)
        assert statuses == ["healthy", "degraded", "healthy", "degraded"]


def test_scenario_switch(sim):
    _, c = sim
    assert c.post("/api/sim/scenario", json={"scenario": "nope"}).status_code == 400
    assert c.post("/api/sim/scenario", json={"scenario": "dlq-flood"}).json() == {"scenario": "dlq-flood"}
    assert c.get("/api/sim/state").json()["scenario"] == "dlq-flood"
    assert set(SCENARIOS) >= {"healthy", "dlq-flood", "heartbeat-misses", "latency-regression", "flapping"}


# ---------------------------------------------------------------- faults and bad endpoints
