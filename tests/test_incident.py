"""Incidents: opened by a kill or a breach, steps with deadlines, actions ticked, capture written."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from cockpit.clock import FakeClock
from cockpit.incident import BreachIncidents, capture, incident_view, mark_done, open_incident
from cockpit.kill import FlagSwitch
from cockpit.rollout import Rollout, RolloutError
from cockpit.store.filelog import FileStore
from cockpit.store.history import Sample, SqliteHistory
from tests.core_helpers import ALOK
from tests.test_flags_envfile import ENV_TEXT, envfile_plan


def make(tmp_path: Path) -> tuple[Rollout, FakeClock]:
    env = tmp_path / "app.env"
    env.write_text(ENV_TEXT)
    clock = FakeClock()
    return Rollout(envfile_plan(env), FileStore(tmp_path / "audit.jsonl"), clock=clock, actor=ALOK), clock


async def test_a_kill_of_one_flag_leaves_disable_flags_to_do(tmp_path: Path) -> None:
    rollout, clock = make(tmp_path)
    report = await FlagSwitch(rollout).kill("just the DLQ", ["FEATURE_FLAG_DLQ_ENABLED"])
    assert report.all_off
    clock.advance(1)
    views = incident_view(rollout.plan, rollout.state, clock.now())
    assert not views[0].done and views[0].overdue  # the heartbeat flag was not part of this kill


async def test_a_kill_opens_an_incident_with_deadlines(tmp_path: Path) -> None:
    rollout, clock = make(tmp_path)
    assert incident_view(rollout.plan, rollout.state, clock.now()) == []
    opened_at = clock.now()
    report = await FlagSwitch(rollout).kill("error rate 2.5%")
    assert report.all_off
    incident = rollout.state.open_incident
    assert incident is not None and incident.reason == "kill: error rate 2.5%"
    views = incident_view(rollout.plan, rollout.state, clock.now())
    assert [(v.label, v.deadline - opened_at) for v in views] == [
        ("Immediately", timedelta(0)),
        ("Within 5 minutes", timedelta(minutes=5)),
        ("Within 30 minutes", timedelta(minutes=30)),
        ("Within 24 hours", timedelta(hours=24)),
    ]
    assert [a for a, _ in views[1].actions] == ["Page on-call", "Capture logs and metrics", "Create incident ticket"]
    assert not any(v.overdue for v in views)
    assert views[0].done  # the verified kill of every flag is the "Immediately" step
    assert rollout.store.read(0)[-1].payload == {"action": views[0].actions[0][0], "incident": 1, "by": "kill"}

    clock.advance(60)
    mark_done(rollout, "page")
    for action in ("Capture logs", "Create incident ticket"):
        mark_done(rollout, action)
    clock.advance(5 * 60)
    views = incident_view(rollout.plan, rollout.state, clock.now())
    assert not views[0].overdue
    assert not views[1].overdue and views[1].done
    page = views[1].actions[0][1]
    assert page is not None and page.actor.user == "alok"
    assert views[1].actions[0][1] is not None and page.at == opened_at + timedelta(minutes=1)


def test_actions_are_named_unambiguously(tmp_path: Path) -> None:
    rollout, _ = make(tmp_path)
    with pytest.raises(RolloutError, match="no incident is open"):
        mark_done(rollout, "Page on-call")
    open_incident(rollout, "by hand")
    with pytest.raises(RolloutError, match="no incident action 'Call mum'"):
        mark_done(rollout, "Call mum")
    with pytest.raises(RolloutError, match="matches several actions"):
        mark_done(rollout, "c")  # Capture ..., Create ...
    mark_done(rollout, "RCA started")
    with pytest.raises(RolloutError, match="already done"):
        mark_done(rollout, "rca started")
    again = open_incident(rollout, "second")
    assert again.payload["reason"] == "by hand"  # one open incident at a time
    assert [e.type for e in rollout.store.read(0)].count("incident.opened") == 1


def test_a_breach_opens_an_incident(tmp_path: Path) -> None:
    rollout, _ = make(tmp_path)
    rollout.listeners.append(BreachIncidents(rollout))
    rollout.open_breach("error_rate", 2.5, "< 1%")
    incident = rollout.state.open_incident
    assert incident is not None and incident.reason == "breach: error_rate = 2.5 (< 1%)"


def test_capture_writes_metrics_samples_and_events(tmp_path: Path) -> None:
    rollout, clock = make(tmp_path)
    open_incident(rollout, "breach")
    history = SqliteHistory(":memory:")
    for i in range(5):
        history.add(Sample("error_rate", clock.now() - timedelta(minutes=5 - i), 0.5 + i))
    history.add(Sample("p99_latency", clock.now(), None, "timed out"))
    path = capture(rollout, history, tmp_path / "cap.json")
    data = json.loads(path.read_text())
    assert data["metrics"]["error_rate"]["latest"]["value"] == 4.5
    assert [s["value"] for s in data["metrics"]["error_rate"]["recent"]] == [0.5, 1.5, 2.5, 3.5, 4.5]
    assert data["metrics"]["p99_latency"]["latest"]["error"] == "timed out"
    assert [e["type"] for e in data["events"]] == ["plan.changed", "incident.opened"]
    last = rollout.store.read(0)[-1]
    assert last.type == "capture.written" and last.payload["path"] == str(path)
    assert "tok-s3cr3t-value" not in path.read_text()
