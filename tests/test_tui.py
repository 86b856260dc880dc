"""Pilot tests: every key of the dashboard, against the real simulator, with a frozen clock."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from textual.widgets import Static

from cockpit import events as ev
from cockpit.clock import FakeClock
from cockpit.demo import example_plan_text
from cockpit.sim.server import SimServer
from screens.commands import CockpitCommands
from screens.dashboard import DashboardScreen
from screens.prompts import PickPrompt, TextPrompt
from tests.core_helpers import example_text
from tests.tui_support import (
    FLAGS,
    events,
    healthy_history,
    make_app,
    real_user_app,
    result_text,
    sign_all,
    soaking_rollout,
    to_stage,
)
from widgets.key_bar import KeyBar

SIZE = (120, 40)

HUNG = '\n[metrics.hung]\ntitle = "Hung"\nsource = "app"\npath = "/bad/hang"\njson_path = "value"\n'

EMOJI_PRONE = set("⏱⏳⌛⌚▶⏸⏹⏺⭐⚡")


async def test_kill_turns_the_simulators_flags_off_and_audits(tmp_path: Path, sim: SimServer) -> None:
    sim.sim.set_flag(FLAGS[0], True, 5)
    app = make_app(tmp_path, app_url=sim.url, token=sim.sim.token)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("K")  # one key, no dialog
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not isinstance(app.screen, TextPrompt | PickPrompt)
        assert all(not sim.sim.flags[f].enabled for f in FLAGS)
        results = events(app, ev.KILL_FLAG_RESULT)
        assert {e.payload["flag"] for e in results} == set(FLAGS)
        assert all(e.payload["verified_off"] for e in results)
        assert events(app, ev.KILL_REQUESTED)
        shown = result_text(app)
        assert "FEATURE_FLAG_DLQ_ENABLED" in shown and "OFF" in shown
        assert "KILLED" in str(app.screen.query_one("#banner").render())


async def test_kill_pressed_before_the_switch_is_built_still_kills(tmp_path: Path, sim: SimServer) -> None:
    """`cockpit` builds its kill switch after the first frame: K pressed sooner builds it and kills."""
    sim.sim.set_flag(FLAGS[0], True, 5)
    app = make_app(tmp_path, app_url=sim.url, token=sim.sim.token, connect=False)
    assert app.services.switch is None
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("K")  # at once: no pause for the first frame
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.services.switch is not None
        assert all(not sim.sim.flags[f].enabled for f in FLAGS)
        assert all(e.payload["verified_off"] for e in events(app, ev.KILL_FLAG_RESULT))


async def test_kill_that_cannot_verify_shows_the_manual_backout(tmp_path: Path) -> None:
    app = make_app(tmp_path, app_url="http://127.0.0.1:9")  # nothing listens: flags unverifiable
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("K")
        await app.workers.wait_for_complete()
        await pilot.pause()
        shown = result_text(app)
        assert "FEATURE_FLAG_DLQ_ENABLED=false" in shown  # the plan's backout command
        assert events(app, ev.KILL_RESULT)[-1].payload["all_off"] is False


async def test_approve_records_the_real_user(tmp_path: Path) -> None:
    app = real_user_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        assert isinstance(app.screen, PickPrompt)
        await pilot.press("enter")
        await pilot.pause()
        approval = app.services.rollout.state.approvals["dev-lead"]
        assert approval.mark.actor.user == pwd.getpwuid(os.getuid()).pw_name
        assert approval.mark.actor.uid == os.getuid()
        assert "signed dev-lead" in result_text(app)


async def test_advance_is_refused_while_the_gate_is_closed_and_says_why(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g")
        await pilot.pause()
        assert app.services.rollout.state.stage_index == -1
        shown = result_text(app)
        assert "gate closed" in shown
        assert "approval missing: Dev Lead (@alok)" in shown


async def test_override_demands_a_reason(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o")
        assert isinstance(app.screen, TextPrompt)
        await pilot.press("enter")  # empty: refused, the prompt stays
        await pilot.pause()
        assert isinstance(app.screen, TextPrompt)
        assert "required" in str(app.screen.query_one("#prompt-error").render())
        assert app.services.rollout.state.stage_index == -1
        await pilot.press(*"vendor window", "enter")
        await pilot.pause()
        assert app.services.rollout.state.stage_index == 0
        assert events(app, ev.GATE_OVERRIDDEN)[-1].payload["reason"] == "vendor window"


async def test_escape_cancels_an_override(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o", "escape")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)
        assert not events(app, ev.GATE_OVERRIDDEN)


async def test_canary_step_demands_the_flag_name(tmp_path: Path, sim: SimServer) -> None:
    app = make_app(tmp_path, app_url=sim.url, token=sim.sim.token)
    rollout = app.services.rollout
    sign_all(rollout)
    to_stage(rollout, "stage-2")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("c")
        assert isinstance(app.screen, TextPrompt)
        await pilot.press(*"FEATURE_FLAG_DLQ", "enter")
        await pilot.pause()
        assert isinstance(app.screen, TextPrompt)  # a wrong name is refused
        assert "not FEATURE_FLAG_DLQ_ENABLED" in str(app.screen.query_one("#prompt-error").render())
        assert not sim.sim.flags[FLAGS[0]].enabled
        await pilot.press(*"_ENABLED", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert sim.sim.flags[FLAGS[0]].enabled and sim.sim.flags[FLAGS[0]].percent == 5
        assert ("stage-2", "dlq-5") in rollout.state.soaks
        assert "now ON 5%" in result_text(app)


async def test_tick_and_note(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    to_stage(app.services.rollout, "stage-0")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("t", "enter")
        await pilot.pause()
        assert ("stage-0", "deploy") in app.services.rollout.state.ticks
        await pilot.press("escape")  # the list stays open for the next item until Escape
        await pilot.press("n", *"handing over to Sam", "enter")
        await pilot.pause()
        assert app.services.rollout.state.notes[-1][0] == "handing over to Sam"


async def test_the_tick_list_stays_open_and_moves_with_j_and_k(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    to_stage(app.services.rollout, "stage-0")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        prompt = app.screen
        assert isinstance(prompt, PickPrompt)
        assert "Enter select" in str(prompt.query_one(".prompt--keys", Static).render())
        await pilot.press("j", "j", "k", "enter")  # the second item
        await pilot.pause()
        assert app.screen is prompt  # still open, the ticked item gone from it
        assert ("stage-0", "build-ok") in app.services.rollout.state.ticks
        await pilot.press("enter", "enter")  # the first, then the last
        await pilot.pause()
        ticks = app.services.rollout.state.ticks
        assert {("stage-0", i) for i in ("deploy", "build-ok", "baseline")} <= set(ticks)
        assert not isinstance(app.screen, PickPrompt)  # nothing left to tick: closed


async def test_readonly_offers_no_write(tmp_path: Path) -> None:
    app = make_app(tmp_path, readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        shown = {b.binding.action for b in app.active_bindings.values() if b.enabled}
        for action in ("kill", "approve", "advance", "override", "note", "tick", "canary"):
            assert action not in shown
        assert "audit" in shown and "app.help" in shown
        await pilot.press("K", "a")
        await pilot.pause()
        assert app.services.rollout.state.count == 0


async def test_keys_are_remapped_from_the_plan(tmp_path: Path) -> None:
    app = make_app(tmp_path, extra='\n[keys]\nadvance = "ctrl+g"\n')
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert "gate closed" in result_text(app)
        keys = {b.binding.key for b in app.active_bindings.values() if b.binding.action == "advance"}
        assert keys == {"ctrl+g"}


def test_example_plan_shipped_in_the_package_matches_the_repo() -> None:
    assert example_plan_text() == example_text()


async def test_every_action_is_in_the_command_palette(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        provider = CockpitCommands(app.screen)
        found = [hit.text async for hit in provider.search("kill switch")]
        assert any("Kill switch" in str(text) and "key K" in str(text) for text in found)  # with its key
        await pilot.press("ctrl+p", *"advance to the next", "enter")  # run from the palette
        await pilot.pause()
        await pilot.pause()
        assert "gate closed" in result_text(app)


async def test_a_key_that_cannot_be_used_now_is_dimmed_and_says_why(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        bar = app.screen.query_one(KeyBar)
        assert [e.enabled for e in bar.entries if e.action == "tick"] == [False]  # shown, dimmed
        await pilot.press("t")
        await pilot.pause()
        assert "no stage entered yet" in result_text(app)
        await pilot.press("b")  # no baseline before the approvals and Stage 0
        await pilot.pause()
        assert "sign the approvals" in result_text(app) and not app.services.rollout.state.baseline


async def test_capturing_the_baseline_ticks_its_checklist_item(tmp_path: Path) -> None:
    clock = FakeClock()
    app = make_app(tmp_path, clock=clock)
    rollout = app.services.rollout
    sign_all(rollout)
    to_stage(rollout, "stage-0")
    healthy_history(rollout, app.services.history)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("b")
        await pilot.pause()
        assert rollout.state.baseline
        assert ("stage-0", "baseline") in rollout.state.ticks  # "Capture baseline metrics"


async def test_q_asks_first_while_a_breach_or_incident_is_open(tmp_path: Path) -> None:
    clock = FakeClock()
    app = make_app(tmp_path, clock=clock)
    rollout = app.services.rollout
    soaking_rollout(rollout, clock)
    rollout.open_breach("dlq_entries", 14, "< 10", stage="stage-2")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
        assert app.is_running and "Quit anyway?" in str(app.screen.query_one(".prompt--title", Static).render())
        await pilot.press("escape")  # stay
        await pilot.pause()
        assert app.is_running and app.screen.id == "dashboard"
        await pilot.press("q", "y")
        await pilot.pause()
    assert app.return_code == 0 and not app.is_running


async def test_q_quits_at_once_when_nothing_is_open(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running

