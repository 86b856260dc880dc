"""``cockpit demo``: the simulator, a throwaway state dir, the guided walk's hints, the dashboard on it."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from cockpit.canary import take_step
from cockpit.clock import FakeClock, ScaledClock
from cockpit.demo import Demo, next_hint
from cockpit.plan.load import load_plan
from cockpit.rollout import RolloutError, open_rollout
from cockpit.rules import Status
from cockpit.session import Services
from cockpit.store.history import SqliteHistory
from cockpit.store.paths import history_path
from cockpit.verify import run_checks
from screens.app import CockpitApp
from tests.core_helpers import make_rollout
from tests.tui_support import FLAGS, record_kill, sign_all, to_stage, until_started


def test_demo_starts_the_simulator_and_cleans_up() -> None:
    before = os.environ.get("APP_URL")
    with Demo(speed=1000, postgres=False, prometheus=False) as demo:
        assert demo.server is not None
        assert os.environ["APP_URL"] == demo.server.url
        assert os.environ["COCKPIT_STATE_DIR"].startswith(str(demo.dir))
        health = httpx.get(demo.server.url + "/health", timeout=5).json()
        assert health["status"] == "healthy"
        flags = httpx.get(demo.server.url + "/api/flags", headers={"Authorization": f"Bearer {demo.token}"}, timeout=5)
        assert flags.status_code == 200
        assert any("PostgreSQL" in n for n in demo.notices())
        assert any(line.startswith("Prometheus: not started") for line in demo.header)
        assert 'poll_interval = "1000s"' in demo.plan_path.read_text()
        directory = demo.dir
    assert not directory.exists()
    assert os.environ.get("APP_URL") == before


def test_hints_walk_the_seed(tmp_path: Path) -> None:
    clock = FakeClock()
    rollout = make_rollout(tmp_path, clock)
    assert "press a" in next_hint(rollout).lower()
    sign_all(rollout)
    assert "g to enter Stage 0" in next_hint(rollout)
    to_stage(rollout, "stage-0")
    assert "b to capture the baseline" in next_hint(rollout)
    flooded = SimpleNamespace(flooded=True, kept=[])  # the demo after f
    assert "The fault is in" not in next_hint(rollout, flooded)  # Stage 0 judges neither DLQ nor heartbeats
    to_stage(rollout, "stage-2")
    assert f"type {FLAGS[0]}" in next_hint(rollout)
    rollout.record_flag_change(
        FLAGS[0], {"enabled": False, "percent": 0}, {"enabled": True, "percent": 5}, stage="stage-2", step="dlq-5"
    )
    fresh = SimpleNamespace(flooded=False, kept=[])
    assert "Press f to inject a fault (dlq-flood)" in next_hint(rollout, fresh)
    clock.advance(timedelta(hours=25))  # the soak is over: the hint says so, and offers the next step
    assert "soak runs" not in next_hint(rollout, fresh) and "100% canary step" in next_hint(rollout, fresh)
    assert "watch DLQ entries climb past < 10" in next_hint(rollout, flooded)
    rollout.open_breach("dlq_entries", 14, "< 10", stage="stage-2")
    assert "Press K" in next_hint(rollout)
    assert "x1" in next_hint(rollout, flooded)
    record_kill(rollout)
    rollout.close_breach("dlq_entries", 0)
    assert "the breach is closed" in next_hint(rollout) and "e exports" in next_hint(rollout)
    exported = SimpleNamespace(flooded=True, kept=[tmp_path / "signoff.md"])
    reads = []
    store_read = rollout.store.read
    rollout.store.read = lambda after=0: reads.append(after) or store_read(after)  # type: ignore[method-assign]
    count = rollout.state.count
    assert "Done: the sign-off is written to" in next_hint(rollout, exported)
    assert reads and min(reads) >= count  # a hint (one a redraw) reads only what is new, never the log again


def test_after_a_kill_without_a_breach_the_hint_does_not_invent_one(tmp_path: Path) -> None:
    rollout = make_rollout(tmp_path, FakeClock())
    sign_all(rollout)
    to_stage(rollout, "stage-2")
    record_kill(rollout)
    hint = next_hint(rollout)
    assert "breach" not in hint and "every flag is off" in hint


def test_f_injects_the_fault_the_current_stage_judges(tmp_path: Path) -> None:
    with Demo(speed=1000, postgres=False, prometheus=False) as demo:
        rollout = make_rollout(tmp_path, FakeClock())
        sign_all(rollout)
        to_stage(rollout, "stage-0")
        with pytest.raises(RolloutError, match="Stage 2 or 3"):
            demo.flood(rollout)
        assert demo.sim.scenario == "healthy" and not demo.flooded
        to_stage(rollout, "stage-2")
        assert "dlq-flood" in demo.flood(rollout) and demo.sim.scenario == "dlq-flood"
        to_stage(rollout, "stage-3")
        assert "heartbeat-misses" in demo.flood(rollout) and demo.sim.scenario == "heartbeat-misses"
        demo.sim.set_flag(FLAGS[1], True, 5)  # the 5% step: the watchdog's misses still breach < 5/hour
        start = demo.sim.watchdog()["watchdogMetrics"]["heartbeatMisses"]
        later = demo.sim.clock() + 3.6  # an hour of simulated time at x1000
        demo.sim.clock = lambda: later
        assert demo.sim.watchdog()["watchdogMetrics"]["heartbeatMisses"] - start > 5


def test_the_export_is_kept_where_the_demo_was_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with Demo(speed=1000, postgres=False, prometheus=False) as demo:
        written = demo.dir / "state" / "signoff.md"
        written.parent.mkdir(parents=True)
        written.write_text("# sign-off\n")
        kept = demo.keep(written)
        assert kept == tmp_path / "signoff.md" and demo.kept == [kept]
    assert not demo.dir.exists() and kept.read_text() == "# sign-off\n"  # q removed the demo, not the export


async def test_dashboard_on_the_demo(tmp_path: Path) -> None:
    with Demo(speed=1000, postgres=False, prometheus=False) as demo:
        loaded = load_plan(demo.plan_path)
        rollout = open_rollout(loaded, clock=demo.clock)
        history = SqliteHistory(history_path(loaded))
        services = Services.build(rollout, history)
        services.notes.update(demo.notes)
        app = CockpitApp(services, demo=demo)
        async with app.run_test(size=(120, 40)) as pilot:
            await until_started(pilot)
            assert "DEMO → Press a" in str(app.screen.query_one("#guide").render())
            for _ in range(200):  # each metric's first poll is staggered over at most half a second
                if history.latest("dlq_entries") is not None:
                    break
                await pilot.pause(0.01)
            assert history.latest("dlq_entries") is not None  # the first poll reached the simulator
            await pilot.press("f")  # Stage 0 judges no fault the simulator can inject: said, nothing changes
            await pilot.pause()
            assert demo.sim.scenario == "healthy" and "Stage 2 or 3" in str(app.screen.query_one("#result").render())
            to_stage(rollout, "stage-2")
            await pilot.press("f")
            await pilot.pause()
            assert demo.sim.scenario == "dlq-flood"
            assert demo.clock.speed == 1.0  # the incident that follows runs in real time
        history.close()


def test_the_demo_clock_changes_pace_without_a_jump() -> None:
    base = FakeClock()
    clock = ScaledClock(1000, base)
    start = clock.now()
    base.advance(2)  # 2 s real at x1000
    assert clock.now() - start == timedelta(seconds=2000)
    clock.set_speed(1.0)
    assert clock.now() - start == timedelta(seconds=2000)  # no jump
    base.advance(3)
    assert clock.now() - start == timedelta(seconds=2003)


async def test_the_demo_without_prometheus_or_postgres_walks_every_stage_live() -> None:
    """Nothing but Python: Prometheus's figures come from the simulator and Stage 1's SQL runs on an SQLite
    stand-in (marked simulated), so every stage's panels read live values and every check passes."""

    with Demo(speed=20000, postgres=False, prometheus=False) as demo:
        assert demo.header == [
            "Prometheus: not started (--no-prometheus), reading the simulator",
            "PostgreSQL: not started (--no-postgres), Stage 1 SQL on an SQLite stand-in",
        ]
        assert not demo.notes  # no panel is left to say "no data"
        loaded = load_plan(demo.plan_path)
        stage1 = loaded.plan.stage("stage-1")
        assert all("[simulated: SQLite stand-in" in c.text for c in stage1.checks)
        rollout = open_rollout(loaded, clock=demo.clock)
        history = SqliteHistory(history_path(loaded))
        services = Services.build(rollout, history)
        assert services.monitor is not None and services.switch is not None
        try:
            for approver in loaded.plan.approvers:
                rollout.approve(approver.role)
            rollout.advance()
            stages = loaded.plan.stages
            for index, stage in enumerate(stages):
                assert rollout.current_stage is not None and rollout.current_stage.id == stage.id
                for _ in range(100):  # a rate ("< 5/hour") needs an hour of samples: 0.18 s at x20000
                    await services.monitor.poll_once()
                    rows = services.monitor.judge(stage.id)
                    if all(row.status is Status.OK for row in rows):
                        break
                    await asyncio.sleep(0.05)
                assert all(row.status is Status.OK for row in rows), [(r.metric, r.status, r.reason) for r in rows]
                outcomes = await run_checks(rollout, stage.id)
                assert all(o.ok for o in outcomes), [(o.check_id, o.detail) for o in outcomes]
                if stage.captures_baseline:
                    rollout.capture_baseline(services.monitor.baseline_values())
                    assert set(rollout.state.baseline) >= {"error_rate", "p99_latency"}
                for item in stage.items:
                    if not item.after_soak:  # one bound to a soak waits for it (the walk skips the soaks)
                        rollout.tick(stage.id, item.id)
                if stage.canary:  # the first step (the next waits for its soak)
                    step = stage.canary[0]
                    await take_step(services.switch, step.flag, step.percent, stage=stage.id, step=step.id,
                                                      confirm=step.flag)  # fmt: skip
                if index == len(stages) - 1:
                    break
                blockers = services.gate_blockers()
                bound = {i.id for i in stage.items if i.after_soak}
                assert all(b.kind in ("soak", "canary") or (b.kind == "item" and b.ref in bound) for b in blockers), (
                    blockers  # only the soaks' hours remain (and the items that wait for them)
                )
                # 24 h soaks take 4 s each even at x20000: the walk skips them, with a recorded override
                rollout.advance(override="test: soaks skipped" if blockers else None,
                                judgements=services.monitor.judge())  # fmt: skip
        finally:
            await services.aclose()
            history.close()


def test_a_kill_slows_the_demo_to_real_time() -> None:
    """The incident a kill opens counts its deadlines in real time, not overdue a few seconds later."""
    with Demo(speed=1000, postgres=False, prometheus=False) as demo:
        assert demo.clock.speed == 1000
        demo.after_kill()
        assert demo.clock.speed == 1.0 and demo.sim.scenario == "healthy"
