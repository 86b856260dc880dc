"""Pilot tests: what the record says reaches the screen: a torn or cut-short log, another cockpit's events,
the audit and incident views, another process's flag change."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from textual.widgets import OptionList, Static

from cockpit.clock import FakeClock
from cockpit.plan.load import parse_plan
from cockpit.rollout import Rollout
from cockpit.session import Services
from cockpit.sim.server import SimServer
from cockpit.store.filelog import FileStore
from cockpit.store.history import SqliteHistory
from screens.app import CockpitApp
from tests.core_helpers import ENV, OPS, ROOT, as_actor, example_text
from tests.tui_support import (
    ALOK,
    FLAGS,
    baseline,
    make_app,
    plain,
    record_kill,
    sign_all,
    to_stage,
)
from widgets.banner import banner_lines

SIZE = (120, 40)

HUNG = '\n[metrics.hung]\ntitle = "Hung"\nsource = "app"\npath = "/bad/hang"\njson_path = "value"\n'

EMOJI_PRONE = set("⏱⏳⌛⌚▶⏸⏹⏺⭐⚡")


async def test_a_torn_audit_log_is_reported_not_a_crash(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    rollout = app.services.rollout
    rollout.note("before the crash")
    with rollout.store.path.open("ab") as fh:  # type: ignore[attr-defined]
        fh.write(b'{"seq": 3, "ti')  # a crash mid-write by another process (after plan.changed and the note)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("n", *"after the crash", "enter")
        await pilot.pause()
        shown = str(app.screen.query_one("#result").render())
        assert "torn last line" in shown and "cockpit audit repair" in shown
        assert app.is_running
        assert "AUDIT LOG TORN at line 3" in "\n".join(banner_lines(app.services, rollout.now()))
        assert [text for text, _ in rollout.state.notes] == ["before the crash"]  # nothing invented


async def test_a_log_cut_short_is_reported_not_a_crash(tmp_path: Path) -> None:
    rollout = make_app(tmp_path).services.rollout
    rollout.note("one")
    rollout.note("two")
    log = rollout.store.path  # type: ignore[attr-defined]
    log.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:-1]))  # an acknowledged event dropped
    app = make_app(tmp_path)  # a cockpit started on that log
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        banner = "\n".join(banner_lines(app.services, app.services.rollout.now()))
        assert "AUDIT LOG CUT SHORT: log ends at event 2; event 3" in banner and "cockpit audit repair" in banner
        assert app.is_running


async def test_another_cockpits_approval_shows_up(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        as_actor(app.services.rollout, OPS).approve("ops-oncall")  # a second cockpit on the same log
        app.screen.refresh_view()
        await pilot.pause()
        assert "Ops On-Call: oncall" in str(app.screen.query_one("#gate").render())


async def test_audit_view_follows_new_events(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        app.services.rollout.note("first")
        await pilot.press("l")
        await pilot.pause()
        screen = app.screen
        # plan.changed, then the note
        assert screen.id == "audit" and screen.last == 2  # type: ignore[attr-defined]
        app.services.rollout.note("second")
        screen.follow()  # type: ignore[attr-defined]
        assert screen.last == 3  # type: ignore[attr-defined]
        await pilot.press("escape", "i")
        await pilot.pause()
        assert app.screen.id == "incident"
        await pilot.press("escape", "question_mark")
        await pilot.pause()
        assert "KILL" in str(app.screen.query_one("Static").render()) or app.screen.query("Static")


async def test_incident_actions_are_marked_done(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    record_kill(app.services.rollout)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("i")
        await pilot.pause()
        assert "INCIDENT #1 OPEN" in str(app.screen.query_one("#incident-body").render())
        await pilot.press("d", "enter")
        await pilot.pause()
        incident = app.services.rollout.state.open_incident
        assert incident is not None and list(incident.steps_done) == [app.services.rollout.plan.incident[0].actions[0]]


async def test_another_processes_flag_set_reaches_the_flag_table_within_a_second(
    tmp_path: Path, sim: SimServer
) -> None:
    """`cockpit flag set` in another shell: the flag table shows it at once (from the record), not at the
    next arm check a minute later; then the provider is read again to confirm it."""
    log = tmp_path / "audit.jsonl"
    text = example_text().replace('store = "file"', f'store = "file"\naudit_log = "{log}"')
    plan = tmp_path / "cockpit.toml"
    plan.write_text(text)
    env = {**ENV, "APP_URL": sim.url, "APP_TOKEN": sim.sim.token, "PROMETHEUS_URL": "http://127.0.0.1:9"}
    loaded = parse_plan(text, str(plan), env, base=plan)
    rollout = Rollout(loaded, FileStore(log), clock=FakeClock(), actor=ALOK)
    sign_all(rollout)
    to_stage(rollout, "stage-0")
    baseline(rollout)
    to_stage(rollout, "stage-2")
    app = CockpitApp(Services.build(rollout, SqliteHistory(tmp_path / "history.sqlite3"), live=True))
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#flags")
        for _ in range(200):
            if "read" in plain(table) and app.screen.watcher.arm is not None:
                break
            await pilot.pause(0.02)
        row = next(line for line in plain(table).splitlines() if FLAGS[0] in line)
        assert row.split()[1:] == ["OFF", "0", "read"], row
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cockpit", "-c", str(plan), "flag", "set", FLAGS[0], "5", "--confirm", FLAGS[0],
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await proc.communicate()
        assert proc.returncode == 0, out
        assert sim.sim.flags[FLAGS[0]].percent == 5
        landed = time.monotonic()
        row = ""
        while time.monotonic() - landed < 1.0:
            row = next(line for line in plain(table).splitlines() if FLAGS[0] in line)
            if "ON" in row.split() and "5" in row.split():
                break
            await pilot.pause(0.05)
        assert "ON" in row.split() and "5" in row.split(), row
        for _ in range(100):  # and the provider is read again, so it says "read", not only "recorded"
            row = next(line for line in plain(table).splitlines() if FLAGS[0] in line)
            if row.split()[-1] == "read" and "5" in row.split():
                break
            await pilot.pause(0.05)
        assert row.split()[-1] == "read" and "ON" in row.split(), row


async def test_the_audit_view_shows_an_event_whole_and_filters(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    rollout = app.services.rollout
    rollout.note("first: " + "a long observation " * 8 + "END")
    rollout.note("second \x1b[31m red \u202e")
    rollout.approve("dev-lead")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("l")
        await pilot.pause()
        screen = app.screen
        options = screen.query_one(OptionList)
        assert options.option_count == 4  # the plan.changed the first note recorded, two notes, the approval
        await pilot.press("k", "k", "enter")  # from the newest, up twice: the first note
        await pilot.pause()
        detail = app.screen
        assert detail.id == "audit-detail"
        body = str(detail.query_one("#detail-body", Static).render())
        assert '"type": "note.added"' in body and "END" in body and '"hash"' in body  # whole, pretty-printed
        await pilot.press("escape", "j", "enter")
        await pilot.pause()
        body = str(app.screen.query_one("#detail-body", Static).render())
        assert "\x1b" not in body and "\u202e" not in body and "\\u001b" in body  # escaped, not obeyed
        await pilot.press("escape", "slash", *"approval")
        await pilot.pause()
        assert options.option_count == 1
        await pilot.press("escape")  # clears the filter
        await pilot.pause()
        assert options.option_count == 4 and app.screen is screen
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.id == "dashboard"

