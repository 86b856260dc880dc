"""Pilot tests: the metric panels: which stage they show, how they are laid out, a hung source, what a
panel says however narrow."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cockpit.clock import FakeClock
from cockpit.plan.load import parse_plan
from cockpit.rollout import Rollout
from cockpit.rules import Status
from cockpit.session import Services
from cockpit.sim.server import SimServer
from cockpit.store.filelog import FileStore
from cockpit.store.history import SqliteHistory
from screens.app import CockpitApp
from tests.core_helpers import ENV, EXAMPLE, example_text
from tests.tui_support import (
    ALOK,
    baseline,
    healthy_history,
    make_app,
    sign_all,
    soaking_rollout,
    to_stage,
    until_started,
)
from widgets.metric_panel import MetricPanel

SIZE = (120, 40)

HUNG = '\n[metrics.hung]\ntitle = "Hung"\nsource = "app"\npath = "/bad/hang"\njson_path = "value"\n'

EMOJI_PRONE = set("⏱⏳⌛⌚▶⏸⏹⏺⭐⚡")


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

