"""Auto-kill: opt-in per threshold rule; countdown start, cancel and fire are audited (fake clock)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from cockpit.autokill import AutoKill
from cockpit.clock import FakeClock
from cockpit.kill import FlagSwitch
from cockpit.rollout import Rollout
from cockpit.rules import Judgement, Status
from cockpit.store.filelog import FileStore
from tests.core_helpers import ALOK, example_text
from tests.test_flags_envfile import ENV_TEXT, envfile_plan

ERROR_RULE = 'label = "Error rate"\nthreshold = "< 1%"\n'


def judged(metric: str, status: Status, at: datetime) -> Judgement:
    return Judgement(metric, metric, status, 2.5, 2.5, "< 1%", "%", "", at, timedelta(0))


def setup(tmp_path: Path) -> tuple[Rollout, FakeClock, AutoKill, Path]:
    env = tmp_path / "app.env"
    env.write_text(ENV_TEXT)
    text = example_text().replace(ERROR_RULE, ERROR_RULE + 'auto_kill = true\nauto_kill_after = "2m"\n', 1)
    loaded = envfile_plan(env, text)
    clock = FakeClock()
    rollout = Rollout(loaded, FileStore(tmp_path / "audit.jsonl"), clock=clock, actor=ALOK)
    rollout.advance(override="test: enter stage 0")
    return rollout, clock, AutoKill(rollout, FlagSwitch(rollout)), env


def types(rollout: Rollout) -> list[str]:
    return [e.type for e in rollout.store.read(0)]


async def test_breach_outlasting_its_limit_counts_down_then_fires(tmp_path: Path) -> None:
    rollout, clock, auto, env = setup(tmp_path)
    auto.update([judged("error_rate", Status.BREACH, clock.now()), judged("p99_latency", Status.BREACH, clock.now())])
    assert auto.countdowns() == {}
    clock.advance(119)
    auto.update([judged("error_rate", Status.BREACH, clock.now())])
    assert auto.countdowns() == {}
    clock.advance(1)
    auto.update([judged("error_rate", Status.BREACH, clock.now()), judged("p99_latency", Status.BREACH, clock.now())])
    assert auto.countdowns() == {"error_rate": 30.0}  # p99 has no auto_kill: never counts down
    started = rollout.store.read(0)[-1]
    assert started.type == "autokill.started" and started.payload["breached_for"] == 120.0
    clock.advance(10)
    assert auto.countdowns() == {"error_rate": 20.0}
    assert await auto.fire_due() is None
    clock.advance(20)
    report = await auto.fire_due()
    assert report is not None and report.all_off
    assert "FEATURE_FLAG_DLQ_ENABLED=false" in env.read_text()
    t = types(rollout)
    assert t.index("autokill.fired") < t.index("kill.requested")
    assert auto.countdowns() == {}
    assert rollout.store.read(0)[t.index("kill.requested")].payload["reason"].startswith("auto-kill: error_rate")


async def test_cancel_stops_the_countdown_until_the_next_breach(tmp_path: Path) -> None:
    rollout, clock, auto, env = setup(tmp_path)
    auto.update([judged("error_rate", Status.BREACH, clock.now())])
    clock.advance(120)
    auto.update([judged("error_rate", Status.BREACH, clock.now())])
    assert "error_rate" in auto.countdowns()
    auto.cancel()
    assert types(rollout)[-1] == "autokill.cancelled" and auto.countdowns() == {}
    clock.advance(600)
    auto.update([judged("error_rate", Status.BREACH, clock.now())])
    assert await auto.fire_due() is None and auto.countdowns() == {}
    assert env.read_text() == ENV_TEXT  # nothing was killed
    auto.update([judged("error_rate", Status.OK, clock.now())])
    auto.update([judged("error_rate", Status.BREACH, clock.now())])
    clock.advance(120)
    auto.update([judged("error_rate", Status.BREACH, clock.now())])
    assert auto.countdowns() == {"error_rate": 30.0}  # a new breach, a new countdown


async def test_recovery_cancels_a_running_countdown(tmp_path: Path) -> None:
    rollout, clock, auto, _ = setup(tmp_path)
    auto.update([judged("error_rate", Status.BREACH, clock.now())])
    clock.advance(121)
    auto.update([judged("error_rate", Status.BREACH, clock.now())])
    auto.update([judged("error_rate", Status.OK, clock.now())])
    last = rollout.store.read(0)[-1]
    assert (last.type, last.payload["reason"]) == ("autokill.cancelled", "breach cleared")
    assert auto.countdowns() == {}


async def test_stale_data_neither_starts_nor_cancels(tmp_path: Path) -> None:
    _, clock, auto, _ = setup(tmp_path)
    auto.update([judged("error_rate", Status.BREACH, clock.now())])
    clock.advance(121)
    auto.update([judged("error_rate", Status.BREACH, clock.now())])
    auto.update([judged("error_rate", Status.STALE, clock.now())])
    assert auto.countdowns() == {"error_rate": 30.0}
