"""The monitor over a real simulator: breaches opened and closed as events, stale data neither,
concurrent polling where a hung source delays nobody, and the baseline snapshot."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from cockpit import events as ev
from cockpit.clock import FakeClock
from cockpit.rules import Status
from cockpit.sim.server import SimServer, Simulator, serve
from cockpit.store.history import Sample
from tests.test_sources import http_body, metric, mini_plan, monitor_for

DLQ = "FEATURE_FLAG_DLQ_ENABLED"
STAGES = """
[[stages]]
id = "stage-0"
title = "Stage 0"
captures_baseline = true

[[stages.thresholds]]
metric = "dlq"
label = "DLQ entries"
threshold = "< 10"

[[stages]]
id = "stage-2"
title = "Stage 2"

[[stages.thresholds]]
metric = "fpr"
label = "False positive rate change"
threshold = "< +50%"
"""


class SimClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def sim() -> Iterator[tuple[SimServer, SimClock]]:
    clock = SimClock()
    server = serve(Simulator(scenario="dlq-flood", token="sim-token", clock=clock))
    yield server, clock
    server.stop()


async def test_breach_opens_and_closes_as_events_and_stale_data_does_neither(
    tmp_path: Path, sim: tuple[SimServer, SimClock]
) -> None:
    server, sim_clock = sim
    body = http_body(server.url, metrics=metric("dlq", "/api/admin/dlq?stats=true", "total"))
    body += metric("fpr", "/api/qc/debug", "watchdogMetrics.falsePositiveRate", extra='unit = "%"')
    clock = FakeClock()
    monitor = monitor_for(mini_plan(tmp_path, body, STAGES), tmp_path, clock)
    rollout = monitor.rollout
    try:
        await monitor.poll_metric("dlq")
        [j] = monitor.evaluate()
        assert j.status is Status.OK and j.value == 0.0 and not rollout.state.breaches

        server.sim.set_flag(DLQ, True, 100)  # the flood: 1 entry per 30 s
        sim_clock.t += 600
        clock.advance(5)
        await monitor.poll_metric("dlq")
        [j] = monitor.evaluate()
        assert j.status is Status.BREACH and j.value == 20.0
        breach = rollout.state.breaches["dlq"]
        assert (breach.value, breach.threshold, breach.stage) == (20.0, "< 10", "stage-0")

        clock.advance(60)  # no poll for a minute: stale, the breach stays open
        [j] = monitor.evaluate()
        assert j.status is Status.STALE and "dlq" in rollout.state.breaches

        server.sim.set_flag(DLQ, False, 0)
        sim_clock.t += 1800
        await monitor.poll_metric("dlq")
        [j] = monitor.evaluate()
        assert j.status is Status.OK and "dlq" not in rollout.state.breaches
        types = [e.type for e in rollout.store.read(0)]
        assert types.count(ev.BREACH_OPENED) == 1 and types.count(ev.BREACH_CLOSED) == 1
    finally:
        await monitor.aclose()
        monitor.history.close()


async def test_baseline_snapshot_then_relative_rows(tmp_path: Path, sim_url: str) -> None:
    body = http_body(
        sim_url, metrics=metric("fpr", "/api/qc/debug", "watchdogMetrics.falsePositiveRate", extra='unit = "%"')
    )
    body += metric("dlq", "/api/admin/dlq?stats=true", "total") + metric("misses", "/api/qc/debug",
                   "watchdogMetrics.heartbeatMisses", kind="counter")  # fmt: skip
    clock = FakeClock()
    monitor = monitor_for(mini_plan(tmp_path, body, STAGES), tmp_path, clock)
    try:
        [j] = monitor.judge("stage-2")
        assert j.status is Status.NO_DATA and j.reason == "no samples yet"
        for _ in range(3):
            await monitor.poll_once()
            clock.advance(5)
        [j] = monitor.judge("stage-2")
        assert j.status is Status.NO_DATA and j.reason == "no baseline captured"
        values = monitor.baseline_values()
        assert set(values) == {"fpr", "dlq"}  # counters are not baselined
        assert values["fpr"]["samples"] == 3 and values["fpr"]["window"] == "5m"
        monitor.rollout.capture_baseline(values)
        [j] = monitor.judge("stage-2")
        assert j.status is Status.OK and j.unit == "%"
    finally:
        await monitor.aclose()
        monitor.history.close()


async def test_run_polls_each_metric_on_its_interval_and_a_hung_source_delays_no_one(
    tmp_path: Path, sim: tuple[SimServer, SimClock]
) -> None:
    server, _ = sim
    body = http_body(server.url, timeout="30s", metrics=metric("health", "/health", "status", kind="text",
                     extra='interval = "200ms"') + metric("hung", "/bad/hang", extra='interval = "200ms"'))  # fmt: skip
    monitor = monitor_for(mini_plan(tmp_path, body), tmp_path)
    seen: list[tuple[float, Sample]] = []
    task = asyncio.create_task(monitor.run(lambda s: seen.append((time.monotonic(), s))))
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len([s for _, s in seen if s.metric == "health"]) < 8:
            await asyncio.sleep(0.05)
        times = [t for t, s in seen if s.metric == "health"]
        assert len(times) >= 8
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert max(gaps) < 0.2 * 1.5
        assert "hung" in monitor.in_flight
        assert server.sim.request_counts.get("/bad/hang") == 1  # never polled twice at once
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await monitor.aclose()
        monitor.history.close()


async def test_run_staggers_first_polls_over_the_spread(tmp_path: Path, sim: tuple[SimServer, SimClock]) -> None:
    server, _ = sim
    metrics = "".join(metric(f"h{i}", "/health", "status", kind="text", extra='interval = "400ms"') for i in range(4))
    monitor = monitor_for(mini_plan(tmp_path, http_body(server.url, metrics=metrics)), tmp_path)
    first: dict[str, float] = {}
    started = time.monotonic()
    task = asyncio.create_task(monitor.run(lambda s: first.setdefault(s.metric, time.monotonic()), spread=0.5))
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(first) < 4:
            await asyncio.sleep(0.02)
        assert len(first) == 4
        offsets = sorted(t - started for t in first.values())
        # phases 0, 0.1, 0.2, 0.3 s (a quarter each of min(interval, spread)): not one burst, all within one interval
        assert offsets[-1] - offsets[0] >= 0.25
        assert offsets[-1] < 0.4 + 0.2
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await monitor.aclose()
        monitor.history.close()


async def test_metrics_of_one_endpoint_share_its_reply(tmp_path: Path, sim: tuple[SimServer, SimClock]) -> None:
    """Three metrics read /api/qc/debug: one request serves a round; the next round asks again."""
    server, _ = sim
    debug = "/api/qc/debug"
    metrics = "".join(
        metric(name, debug, f"watchdogMetrics.{field}", extra='interval = "1s"')
        for name, field in (("misses", "heartbeatMisses"), ("moved", "jobsMovedToDlq"), ("fpr", "falsePositiveRate"),
                            ("nope", "noSuchField"))
    )  # fmt: skip
    monitor = monitor_for(mini_plan(tmp_path, http_body(server.url, metrics=metrics)), tmp_path)
    counts = server.sim.request_counts
    try:
        samples = await monitor.poll_once()  # concurrent: the request in flight is shared
        assert counts.get(debug) == 1
        assert all(s.value is not None and not s.error for n, s in samples.items() if n != "nope")
        assert "noSuchField" in samples["nope"].error  # each metric still reads its own field of the reply
        monitor.schedule()  # staggered polls of one round: a reply is reused for min(spread, interval / 2)
        assert monitor.shared.max_age == 0.5
        await asyncio.sleep(0.55)
        await monitor.poll_metric("misses")
        await monitor.poll_metric("moved")
        assert counts.get(debug) == 2
        await asyncio.sleep(0.55)  # the next round reads afresh
        await monitor.poll_metric("fpr")
        assert counts.get(debug) == 3 and monitor.shared.requests == 3
    finally:
        await monitor.aclose()
        monitor.history.close()


def test_judging_reads_an_hour_only_for_rates_and_still_finds_a_consecutive_run(tmp_path: Path) -> None:
    """Judging runs every second: only a rate ("< 3/hour") reads its hour of samples; a plain limit reads
    its last few, with room for failed polls inside a run of ``consecutive`` bad ones."""
    body = http_body("http://127.0.0.1:1", metrics=metric("dlq", "/dlq", extra="consecutive = 3")
                     + metric("fpr", "/fpr") + metric("moved", "/moved", kind="counter"))  # fmt: skip
    stages = STAGES + '\n[[stages.thresholds]]\nmetric = "moved"\nlabel = "moved"\nthreshold = "< 3/hour"\n'
    clock = FakeClock()
    monitor = monitor_for(mini_plan(tmp_path, body, stages), tmp_path, clock)
    start = clock.now() - timedelta(hours=1)
    for i in range(721):  # an hour of 5 s polls
        at = start + i * timedelta(seconds=5)
        monitor.history.add(Sample("moved", at, float(i // 100)))
        bad = i in (716, 718, 720)  # the last three good samples are bad; the polls between them failed
        monitor.history.add(Sample("dlq", at, None, "connection refused") if i in (717, 719) else
                            Sample("dlq", at, 50.0 if bad else 1.0))  # fmt: skip
    assert len(monitor.recent("moved")) >= 720
    assert len(monitor.recent("dlq")) <= 12
    dlq = monitor.judge("stage-0")[0]
    assert dlq.status is Status.BREACH and "3 consecutive" in dlq.reason
    moved = monitor.judge("stage-2")[1]
    assert moved.status is Status.BREACH and moved.value == pytest.approx(7.0, rel=0.01)


def test_a_rate_window_is_reread_only_when_a_newer_sample_came_and_judges_the_same(tmp_path: Path) -> None:
    body = http_body("http://127.0.0.1:1", metrics=metric("dlq", "/dlq") + metric("fpr", "/fpr")
                     + metric("moved", "/moved", kind="counter"))  # fmt: skip
    stages = STAGES + '\n[[stages.thresholds]]\nmetric = "moved"\nlabel = "moved"\nthreshold = "< 30/hour"\n'
    clock = FakeClock()
    monitor = monitor_for(mini_plan(tmp_path, body, stages), tmp_path, clock)
    history = monitor.history
    start = clock.now() - timedelta(hours=1)
    for i in range(721):
        history.add(Sample("moved", start + i * timedelta(seconds=5), float(i // 30)))
    reads: list[str] = []
    samples = history.samples

    def counted(name: str, since: datetime, until: datetime | None = None) -> list[Sample]:
        reads.append(name)
        return samples(name, since, until)

    history.samples = counted  # type: ignore[method-assign]
    for second in range(40):  # a round a second; a poll every 5 s, one of them failed; a jump of a minute
        if second % 5 == 0:
            clock.advance(timedelta(seconds=5) if second != 20 else timedelta(minutes=1))
            failed = second == 10
            history.add(Sample("moved", clock.now(), None if failed else 24.0 + second, "timeout" if failed else ""))
        kept = monitor.judge("stage-2")[1]
        monitor._windows.clear()  # the same round judged from a fresh read
        fresh = monitor.judge("stage-2")[1]
        assert (kept.status, kept.value, kept.reason) == (fresh.status, fresh.value, fresh.reason)
        monitor.judge("stage-2")  # and once more to keep the window for the next round
    reads.clear()
    monitor.judge("stage-2")
    assert reads == ["fpr"]  # the rate's window: kept, as nothing newer came (fpr reads its last few)
    history.add(Sample("moved", clock.advance(5), 99.0))
    assert monitor.judge("stage-2")[1].status is Status.BREACH and reads == ["fpr", "fpr", "moved"]
