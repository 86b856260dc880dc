"""Pilot tests: every key of the dashboard, against the real simulator, with a frozen clock."""

from __future__ import annotations

import asyncio
import io
import os
import pwd
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import OptionList, Static

from cockpit import events as ev
from cockpit.clock import FakeClock
from cockpit.plan.load import parse_plan
from cockpit.rollout import Rollout
from cockpit.rules import Status
from cockpit.session import Services
from cockpit.sim.server import SimServer
from cockpit.store.filelog import FileStore
from cockpit.store.history import SqliteHistory
from screens.app import CockpitApp
from screens.dashboard import DashboardScreen
from screens.prompts import PickPrompt, TextPrompt
from tests.core_helpers import ENV, EXAMPLE, ROOT, example_text
from tests.tui_support import (
    ALOK,
    FLAGS,
    baseline,
    healthy_history,
    make_app,
    real_user_app,
    sign_all,
    soaking_rollout,
    to_stage,
    until_started,
)
from widgets.banner import banner_lines
from widgets.key_bar import KeyBar
from widgets.metric_panel import MetricPanel

SIZE = (120, 40)


def events(app: object, type: str) -> list[ev.Event]:
    rollout = app.services.rollout  # type: ignore[attr-defined]
    return [e for e in rollout.store.read(0) if e.type == type]


def plain(widget: object, width: int = 60) -> str:
    """What a widget shows, as plain text (a Rich renderable, e.g. the flag table's Group)."""
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(widget.content)  # type: ignore[attr-defined]  # a Static: what it was given
    return console.export_text()


def result_text(app: object) -> str:
    return str(app.screen.query_one("#result").render())  # type: ignore[attr-defined]


@pytest.fixture
def sim(sim_server: SimServer) -> SimServer:
    sim_server.sim.reset_faults()
    for flag in FLAGS:
        sim_server.sim.set_flag(flag, False, 0)
    yield sim_server  # type: ignore[misc]
    for flag in FLAGS:
        sim_server.sim.set_flag(flag, False, 0)


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
    from tests.core_helpers import OPS, as_actor

    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        as_actor(app.services.rollout, OPS).approve("ops-oncall")  # a second cockpit on the same log
        app.screen.refresh_view()
        await pilot.pause()
        assert "Ops On-Call: oncall" in str(app.screen.query_one("#gate").render())


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


def test_example_plan_shipped_in_the_package_matches_the_repo() -> None:
    from cockpit.demo import example_plan_text
    from tests.core_helpers import example_text

    assert example_plan_text() == example_text()


async def test_every_action_is_in_the_command_palette(tmp_path: Path) -> None:
    from screens.commands import CockpitCommands

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


async def test_incident_actions_are_marked_done(tmp_path: Path) -> None:
    from tests.tui_support import record_kill

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


async def test_panels_follow_the_stage(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    rollout = app.services.rollout
    sign_all(rollout)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert [p.label for p in app.screen.query("MetricPanel")] == ["Health status", "Error rate", "P99 latency"]
        to_stage(rollout, "stage-0")
        app.screen.refresh_view()
        await pilot.pause()
        to_stage(rollout, "stage-2")
        app.screen.refresh_view()
        await pilot.pause()
        app.screen.refresh_view()
        await pilot.pause()
        labels = [p.label for p in app.screen.query("MetricPanel")]
        assert labels == ["DLQ entries", "Error rate change", "Latency regression"]


async def test_the_panels_are_titled_by_the_current_stage_in_an_even_grid(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    rollout = app.services.rollout
    sign_all(rollout)
    to_stage(rollout, "stage-0")
    async with app.run_test(size=SIZE) as pilot:
        await until_started(pilot)
        box = app.screen.query_one("#metrics")
        assert box.border_title == "Stage 0: Baseline Deployment: thresholds"
        health, *charts = list(app.screen.query(MetricPanel))
        assert health.label == "Health status" and health.region.width > charts[0].region.width  # full width
        assert [c.region.height for c in charts] == [charts[0].region.height] * 2  # side by side, even
        to_stage(rollout, "stage-1")  # no thresholds of its own: Stage 0's panels stay, titled for Stage 1
        app.screen.refresh_view()
        await pilot.pause()
        assert box.border_title == "Stage 1: Run Migrations: no thresholds; watching Stage 0: Baseline Deployment"
        to_stage(rollout, "stage-2")  # three charts: the odd one takes the whole last row
        app.screen.refresh_view()
        await pilot.pause()
        await pilot.pause()
        dlq, err, lat = list(app.screen.query(MetricPanel))
        assert dlq.region.height == err.region.height and lat.region.width > dlq.region.width


def live_app(tmp_path: Path, sim: SimServer, extra: str, *, poll: str = "300ms") -> CockpitApp:
    """The example plan polling the simulator for real (live=True) every ``poll``; a frozen clock."""
    text = example_text().replace('poll_interval = "5s"', f'poll_interval = "{poll}"') + extra
    env = {**ENV, "APP_URL": sim.url, "APP_TOKEN": sim.sim.token, "PROMETHEUS_URL": "http://127.0.0.1:9"}
    loaded = parse_plan(text, str(EXAMPLE), env, base=EXAMPLE)
    rollout = Rollout(loaded, FileStore(tmp_path / "audit.jsonl"), clock=FakeClock(), actor=ALOK)
    services = Services.build(rollout, SqliteHistory(tmp_path / "history.sqlite3"), live=True)
    return CockpitApp(services)


HUNG = '\n[metrics.hung]\ntitle = "Hung"\nsource = "app"\npath = "/bad/hang"\njson_path = "value"\n'


async def test_a_hung_source_delays_no_other_metric(tmp_path: Path, sim: SimServer) -> None:
    app = live_app(tmp_path, sim, HUNG)  # the app source's timeout is 5 s: /bad/hang holds it that long
    history = app.services.history
    async with app.run_test(size=SIZE) as pilot:
        started = time.monotonic()
        deadline = started + 4.0  # inside the hung poll's 5 s timeout
        while time.monotonic() < deadline and min(history.count("dlq_entries"), history.count("health")) < 4:
            await pilot.pause(0.05)
        took = time.monotonic() - started
        assert history.count("dlq_entries") >= 4 and history.count("health") >= 4, took
        assert took < 2.5  # four 300 ms polls each (plus the start-up stagger), not one per 5 s timeout
        monitor = app.services.monitor
        assert monitor is not None
        assert "hung" in monitor.in_flight and history.count("hung") == 0  # still hanging, polled once
        assert sim.sim.request_counts.get("/bad/hang", 0) >= 1
        rows = {j.metric: j for j in monitor.judge("stage-0")}
        assert rows["health"].status is Status.OK  # judged on its own timer from the fresh samples


EMOJI_PRONE = set("⏱⏳⌛⌚▶⏸⏹⏺⭐⚡")
"""Characters terminals and fonts commonly draw as 2-cell emoji (or a box) even without VS16."""


def test_every_glyph_on_screen_is_one_cell_wide() -> None:
    """Over SSH a 2-cell glyph shifts the rest of its line (and boxes are unreadable)."""
    import unicodedata

    from rich.cells import cell_len

    root = Path(__file__).parent.parent
    glyphs = {
        ch: path.name
        for path in [*root.glob("screens/*.py"), *root.glob("widgets/*.py")]
        for ch in path.read_text(encoding="utf-8")
        if ord(ch) > 127
    }
    assert "✔" in glyphs and "◷" in glyphs  # the scan saw the status marks
    wide = {ch: f for ch, f in glyphs.items() if cell_len(ch) != 1 or unicodedata.east_asian_width(ch) in "WF"}
    assert not wide
    assert not {ch: f for ch, f in glyphs.items() if ch in EMOJI_PRONE or ord(ch) > 0xFFFF}  # BMP, not emoji


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("stage", ["stage-0", "stage-2"])
async def test_panels_show_status_value_and_threshold_uncut(tmp_path: Path, stage: str, size: tuple[int, int]) -> None:
    """At the narrowest panel the status word, the value and the threshold are on screen whole (at 80
    columns the panels come below the stepper, gate and flags: scrolled to, they are whole)."""
    clock = FakeClock()
    app = make_app(tmp_path, clock=clock)
    rollout = app.services.rollout
    if stage == "stage-0":
        sign_all(rollout)
        to_stage(rollout, "stage-0")
        baseline(rollout)
    else:
        soaking_rollout(rollout, clock)
    healthy_history(rollout, app.services.history, dlq=14.0)  # stage 2: the DLQ panel is in BREACH
    app.services.monitor.evaluate()  # type: ignore[union-attr]
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        panels = [p for p in app.screen.query(MetricPanel) if p.size.width]
        assert len(panels) == 3
        for panel in panels:
            head, detail = (panel.query_one(c).render_line(0).text for c in (".metric--head", ".metric--detail"))
            value = head.split("  ")[1]
            assert head.startswith(f"{'✘ BREACH' if panel.metric == 'dlq_entries' else '✔ OK'}  ")
            assert value[-1].isalnum() or value.endswith("%")  # "0.32%", "244 ms", "healthy": not cut
            assert detail.startswith(f"limit {panel.threshold}") and "…" not in detail
            if "+" in value:  # a signed change only where the threshold is relative
                assert panel.threshold.startswith(("< +", "> +", "<= +")), (panel.label, value)
            if panel.metric == "error_rate" and stage == "stage-0":
                assert value == "0.32%"  # an absolute percentage carries no sign, here or in the reason
                judgement = app.services.monitor.judge("stage-0")[1]  # type: ignore[union-attr]
                assert judgement.reason.startswith("within: 0.32")


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
