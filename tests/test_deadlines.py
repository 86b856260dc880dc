"""Incident deadlines: one rule says on time / late / pending (due by T) / missed; view, banner and export use it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cockpit import events as ev
from cockpit.clock import FakeClock
from cockpit.export.markdown import render_markdown
from cockpit.export.model import build_record
from cockpit.incident import complete_by_kill, incident_view, mark_done, open_incident
from cockpit.rollout import Rollout
from tests.core_helpers import make_rollout
from tests.tui_support import make_app
from widgets.banner import banner_lines

KILL = datetime(2024, 12, 12, 3, 18, tzinfo=UTC)


def _killed(tmp_path: Path) -> tuple[Rollout, FakeClock]:
    """A kill at 03:18 as cockpit.kill records it: every flag verified off, the incident opened, the
    immediate step done by the kill a millisecond later."""
    clock = FakeClock(KILL)
    rollout = make_rollout(tmp_path, clock)
    flags = [f.name for f in rollout.plan.flags]
    rollout.record(ev.KILL_REQUESTED, {"reason": "K", "flags": flags})
    for flag in flags:
        rollout.record(ev.KILL_FLAG_RESULT, {"flag": flag, "ok": True, "verified_off": True})
    rollout.record(ev.KILL_RESULT, {"all_off": True, "may_be_on": [], "reason": "K"})
    open_incident(rollout, "kill: K")
    clock.advance(timedelta(milliseconds=1))
    complete_by_kill(rollout)
    return rollout, clock


def test_a_minute_after_the_kill_the_later_steps_are_pending_and_the_kill_was_on_time(tmp_path: Path) -> None:
    rollout, clock = _killed(tmp_path)
    clock.set(KILL + timedelta(minutes=1))
    record = build_record(rollout)
    verdicts = {s["id"]: s["verdict"] for s in record["incidents"][0]["steps"]}
    assert verdicts == {"immediately": "on time", "within-5m": "pending", "within-30m": "pending", "within-24h": "pending"}
    text = render_markdown(record)
    assert "**Within 5 minutes** (by 2024-12-12 03:23 UTC): pending" in text
    assert "**Immediately** (by 2024-12-12 03:18 UTC): done on time" in text
    assert "NOT met" not in text and "(late)" not in text and "LATE" not in text
    views = {v.step_id: v for v in incident_view(rollout.plan, rollout.state, rollout.now())}
    assert not views["immediately"].overdue and views["immediately"].verdict.describe() == "done on time"
    assert views["within-5m"].verdict.describe() == "pending (due by 2024-12-12 03:23:00Z)"


def test_past_the_deadline_a_step_not_done_is_missed_and_one_done_then_is_late(tmp_path: Path) -> None:
    rollout, clock = _killed(tmp_path)
    clock.set(KILL + timedelta(minutes=6))
    views = {v.step_id: v for v in incident_view(rollout.plan, rollout.state, rollout.now())}
    assert views["within-5m"].verdict.verdict == "missed" and views["within-5m"].overdue
    assert views["within-30m"].verdict.verdict == "pending"
    mark_done(rollout, "Page on-call")
    for action in ("Capture logs and metrics", "Create incident ticket"):
        mark_done(rollout, action)
    (step,) = [s for s in build_record(rollout)["incidents"][0]["steps"] if s["id"] == "within-5m"]
    assert step["verdict"] == "late" and [a["verdict"] for a in step["actions"]] == ["late"] * 3
    assert "- **Within 5 minutes** (by 2024-12-12 03:23 UTC): done LATE" in render_markdown(build_record(rollout))


def test_a_step_done_in_time_is_on_time(tmp_path: Path) -> None:
    rollout, clock = _killed(tmp_path)
    clock.set(KILL + timedelta(minutes=4))
    for action in ("Page on-call", "Capture logs and metrics", "Create incident ticket"):
        mark_done(rollout, action)
    clock.set(KILL + timedelta(days=2))
    (step,) = [s for s in build_record(rollout)["incidents"][0]["steps"] if s["id"] == "within-5m"]
    assert step["verdict"] == "on time"


async def test_the_incident_view_and_the_banner_say_what_the_rule_says(tmp_path: Path) -> None:
    clock = FakeClock(KILL)
    app = make_app(tmp_path, clock=clock)
    rollout = app.services.rollout
    flags = [f.name for f in rollout.plan.flags]
    rollout.record(ev.KILL_REQUESTED, {"reason": "K", "flags": flags})
    for flag in flags:
        rollout.record(ev.KILL_FLAG_RESULT, {"flag": flag, "ok": True, "verified_off": True})
    open_incident(rollout, "kill: K")
    clock.advance(timedelta(milliseconds=1))
    complete_by_kill(rollout)
    clock.set(KILL + timedelta(minutes=1))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        banner = "\n".join(banner_lines(app.services, rollout.now()))
        assert "OVERDUE" not in banner and "next (in 4m): Page on-call" in banner
        await pilot.press("i")
        await pilot.pause()
        body = str(app.screen.query_one("#incident-body").render())
        assert "Immediately  due 12-12 03:18Z (done on time)" in body and "OVERDUE" not in body
        assert "Within 5 minutes  due 12-12 03:23Z (in 4m)" in body
        clock.set(KILL + timedelta(minutes=6))
        app.screen.draw()  # type: ignore[attr-defined]
        await pilot.pause()
        body = str(app.screen.query_one("#incident-body").render())
        assert "Within 5 minutes  due 12-12 03:23Z (MISSED)" in body
