"""Auto-kill: opt-in per threshold rule; countdown start, cancel and fire are audited (fake clock)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from cockpit.autokill import AutoKill
from cockpit.clock import FakeClock
from cockpit.kill import FlagSwitch
from cockpit.rollout import Rollout
from cockpit.rules import Judgement, Status
from cockpit.store.audit import EventStore
from cockpit.store.filelog import FileStore
from cockpit.store.pg import PgStore, init_schema
from tests.core_helpers import ALOK, OPS, example_plan, example_text
from tests.test_flags_envfile import ENV_TEXT, envfile_plan

ERROR_RULE = 'label = "Error rate"\nthreshold = "< 1%"\n'


def judged(metric: str, status: Status, at: datetime) -> Judgement:
    return Judgement(metric, metric, status, 2.5, 2.5, "< 1%", "%", "", at, timedelta(0))


def setup(tmp_path: Path, store: EventStore | None = None) -> tuple[Rollout, FakeClock, AutoKill, Path]:
    env = tmp_path / "app.env"
    env.write_text(ENV_TEXT)
    text = example_text().replace(ERROR_RULE, ERROR_RULE + 'auto_kill = true\nauto_kill_after = "2m"\n', 1)
    loaded = envfile_plan(env, text)
    clock = FakeClock()
    rollout = Rollout(loaded, store or FileStore(tmp_path / "audit.jsonl"), clock=clock, actor=ALOK)
    rollout.advance(override="test: enter stage 0")
    return rollout, clock, AutoKill(rollout, FlagSwitch(rollout)), env


def types(rollout: Rollout) -> list[str]:
    return [e.type for e in rollout.store.read(0)]


def recovered(rollout: Rollout, auto: AutoKill, metric: str = "error_rate") -> None:
    """The metric is OK again: the monitor closes its breach, auto-kill hears the OK."""
    rollout.close_breach(metric, 0.1)
    auto.update([judged(metric, Status.OK, rollout.now())])


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
    recovered(rollout, auto)
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


def second_cockpit(rollout: Rollout, store: object | None = None) -> tuple[Rollout, AutoKill]:
    """Another cockpit on the same record (its own Rollout, store object and AutoKill), another person."""
    other = Rollout(rollout.loaded, store or FileStore(rollout.store.path), clock=rollout.clock, actor=OPS)  # type: ignore[arg-type, attr-defined]
    return other, AutoKill(other, FlagSwitch(other))


def breach_for(auto: AutoKill, clock: FakeClock, seconds: float) -> None:
    clock.advance(seconds)
    auto.update([judged("error_rate", Status.BREACH, clock.now())])


def count(rollout: Rollout, type: str) -> int:
    return types(rollout).count(type)


async def test_one_countdown_per_breach_and_a_cancel_holds_on_every_cockpit_and_after_a_restart(
    tmp_path: Path,
) -> None:
    rollout, clock, a, env = setup(tmp_path)
    other, b = second_cockpit(rollout)
    breach_for(a, clock, 0)
    breach_for(a, clock, 120)
    breach_for(b, clock, 1)  # the second cockpit sees the same breach a second later
    assert count(rollout, "autokill.started") == 1  # one shared countdown, not one per cockpit
    assert a.countdowns() == b.countdowns() == {"error_rate": 29.0}
    a.cancel()
    cancelled = rollout.store.read(0)[-1]
    assert cancelled.type == "autokill.cancelled" and cancelled.payload["breaches"] == {
        "error_rate": rollout.state.breaches["error_rate"].opened.seq
    }
    for _ in range(3):  # the other cockpit honours it while the breach persists
        breach_for(b, clock, 30)
        assert await b.fire_due() is None
    _restarted, c = second_cockpit(rollout)  # a cockpit started after the cancel honours it too
    breach_for(c, clock, 30)
    assert await c.fire_due() is None and c.countdowns() == {}
    assert count(rollout, "autokill.started") == 1 and env.read_text() == ENV_TEXT
    recovered(other, b)  # the breach closes; a new one opens: a new countdown
    breach_for(c, clock, 0)
    breach_for(c, clock, 120)
    assert b.countdowns() == {"error_rate": 30.0} and count(rollout, "autokill.started") == 2


async def test_a_persisting_breach_kills_once_even_with_two_cockpits_racing(tmp_path: Path) -> None:
    rollout, clock, a, env = setup(tmp_path)
    _other, b = second_cockpit(rollout)
    breach_for(a, clock, 0)
    breach_for(a, clock, 120)
    clock.advance(30)
    reports = await asyncio.gather(a.fire_due(), b.fire_due())
    assert sum(r is not None for r in reports) == 1  # decided once, under the store's lock
    assert "FEATURE_FLAG_DLQ_ENABLED=false" in env.read_text()
    for _ in range(4):  # the breach persists (the metric stuck high): no re-arm, no second kill
        for auto in (a, b):
            breach_for(auto, clock, 31)
            assert await auto.fire_due() is None
    assert count(rollout, "autokill.fired") == 1 and count(rollout, "kill.requested") == 1
    assert count(rollout, "autokill.started") == 1


async def test_the_countdown_length_is_the_plans_auto_kill_countdown(tmp_path: Path) -> None:
    env = tmp_path / "app.env"
    env.write_text(ENV_TEXT)
    text = example_text().replace(ERROR_RULE, ERROR_RULE + 'auto_kill = true\nauto_kill_after = "2m"\n', 1)
    text = text.replace('poll_interval = "5s"', 'poll_interval = "5s"\nauto_kill_countdown = "45s"', 1)
    rollout = Rollout(envfile_plan(env, text), FileStore(tmp_path / "audit.jsonl"), clock=FakeClock(), actor=ALOK)
    rollout.advance(override="test: enter stage 0")
    auto = AutoKill(rollout, FlagSwitch(rollout))
    breach_for(auto, rollout.clock, 0)  # type: ignore[arg-type]
    breach_for(auto, rollout.clock, 120)  # type: ignore[arg-type]
    assert auto.countdowns() == {"error_rate": 45.0}
    assert rollout.store.read(0)[-1].payload["countdown"] == 45.0
    assert example_plan().plan.defaults.auto_kill_countdown == timedelta(seconds=30)


@pytest.mark.postgres
async def test_on_postgresql_a_cancel_holds_across_cockpits_and_one_fire_is_decided(
    postgres_db: str, tmp_path: Path
) -> None:
    init_schema(postgres_db)
    rollout, clock, a, _env = setup(tmp_path, PgStore(postgres_db, "alokickflow-phase2"))
    other, b = second_cockpit(rollout, PgStore(postgres_db, "alokickflow-phase2"))
    breach_for(a, clock, 0)
    breach_for(b, clock, 120)
    breach_for(a, clock, 1)
    assert count(rollout, "autokill.started") == 1
    b.cancel()
    breach_for(a, clock, 60)
    assert await a.fire_due() is None and a.countdowns() == {}
    recovered(rollout, a)
    breach_for(b, clock, 0)
    breach_for(a, clock, 120)
    clock.advance(30)
    reports = await asyncio.gather(a.fire_due(), b.fire_due())
    assert sum(r is not None for r in reports) == 1
    breach_for(b, clock, 40)
    assert await b.fire_due() is None
    assert count(rollout, "autokill.fired") == 1 and count(rollout, "kill.requested") == 1
    rollout.store.close()  # type: ignore[attr-defined]
    other.store.close()  # type: ignore[attr-defined]
