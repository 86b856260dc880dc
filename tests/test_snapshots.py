"""SVG snapshots of the dashboard at 80x24 and 160x48: healthy, breached, killed.

Frozen clock, fixed actor, no polling, no ports or paths on screen: the pictures are the same on
every run. Update with ``pytest tests/test_snapshots.py --snapshot-update`` and look at the diff.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.screen import ModalScreen
from textual.widgets import Static

from cockpit.clock import FakeClock
from cockpit.sim.server import SimServer
from screens.app import CockpitApp
from tests.tui_support import (
    FLAGS,
    baseline,
    cut_text,
    healthy_history,
    make_app,
    record_kill,
    screen_lines,
    sign_all,
    soaking_rollout,
    to_stage,
    until_started,
)

SIZES = [(80, 24), (160, 48)]


def build(tmp_path: Path, state: str, app_url: str = "http://127.0.0.1:9", token: str = "sim-token") -> CockpitApp:
    clock = FakeClock()
    app = make_app(tmp_path, clock=clock, app_url=app_url, token=token)
    rollout, history = app.services.rollout, app.services.history
    soaking_rollout(rollout, clock)
    healthy_history(rollout, history, dlq=14.0 if state != "healthy" else 2.0)
    if state != "healthy":
        app.services.monitor.evaluate()  # type: ignore[union-attr]  # opens the DLQ breach
    if state == "killed":
        record_kill(rollout)
    return app


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("state", ["healthy", "breached", "killed"])
def test_dashboard(snap_compare: object, tmp_path: Path, state: str, size: tuple[int, int]) -> None:
    app = build(tmp_path, state)
    breaches = app.services.rollout.state.breaches
    assert ("dlq_entries" in breaches) == (state != "healthy")
    assert snap_compare(app, terminal_size=size, run_before=until_started)  # type: ignore[operator]


SCREEN_SIZES = [(80, 24), (120, 40)]


def blocked_app(tmp_path: Path) -> CockpitApp:
    """Stage 3 just entered: its 7 items, its check, its canary step and 3 metrics with no data block it."""
    app = make_app(tmp_path, clock=FakeClock())
    rollout = app.services.rollout
    sign_all(rollout)
    to_stage(rollout, "stage-0")
    baseline(rollout)
    to_stage(rollout, "stage-3")
    assert len(app.services.gate_blockers()) >= 12
    return app


async def press(pilot: Pilot[None], *keys: str) -> None:
    await until_started(pilot)
    await pilot.press(*keys)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


SCREENS = {
    "blocked-12-reasons": (blocked_app, ("g",)),  # the refusal lists every reason (in a dialog: 12 are many)
    "after-kill": (None, ("K",)),  # the real key, on the simulator: every flag verified off
    "incident-view": (lambda tmp: build(tmp, "killed"), ("i",)),
    "audit-detail": (lambda tmp: build(tmp, "killed"), ("l", "k", "k", "enter")),
    "canary-prompt": (lambda tmp: build(tmp, "healthy"), ()),
    "override-prompt": (blocked_app, ("o",)),
}


@pytest.mark.parametrize("size", SCREEN_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", list(SCREENS))
def test_screens_cut_no_text(
    snap_compare: object, tmp_path: Path, name: str, size: tuple[int, int], sim_server: SimServer
) -> None:
    """Each screen a user meets in trouble, at 80x24 and 120x40: text wraps or says "… N more", never cut."""
    make, keys = SCREENS[name]
    if make is None:
        for flag in FLAGS:
            sim_server.sim.set_flag(flag, True, 5)
        app = build(tmp_path, "breached", sim_server.url, sim_server.sim.token)
    else:
        app = make(tmp_path)
    if name == "canary-prompt":  # the 100% step, after the 5% one soaked
        rollout = app.services.rollout
        rollout.clock.advance(timedelta(hours=11))  # type: ignore[attr-defined]
        rollout.complete_soaks()
        keys = ("c",)
    seen: list[str] = []
    dialog: list[str] = []

    async def run_before(pilot: Pilot[None]) -> None:
        await press(pilot, *keys)
        seen.extend(screen_lines(pilot.app))  # type: ignore[arg-type]
        if isinstance(pilot.app.screen, ModalScreen):  # its own words (the rows on screen mix in what it covers)
            dialog.extend(str(w.render()) for w in pilot.app.screen.query(Static))

    assert snap_compare(app, terminal_size=size, run_before=run_before)  # type: ignore[operator]
    assert seen and not cut_text(seen), cut_text(seen)
    text = re.sub(r"[\s█▊▎]", "", "".join(seen))  # a dialog's borders and the wrapping are not the words

    def shows(*phrases: str) -> bool:
        return all(re.sub(r"\s", "", phrase) in text for phrase in phrases)

    if name == "after-kill":  # the stepper, the flags and the gate stay in view
        assert shows("Stage 2: Enable DLQ", "FEATURE_FLAG_JOB_HEARTBEAT", "GATE CLOSED", "KILL: ALL OFF"), "\n".join(
            seen
        )
        assert shows("Its backout:", "-- See migration/operator_instructions.md")
    if name == "blocked-12-reasons":
        assert sum(line.startswith("- ") for line in dialog[1].splitlines()) >= 12  # every reason, in a dialog
    if name == "canary-prompt":
        assert "Type the flag name to confirm" in dialog[0] and "Enter confirm · Esc cancel" in dialog
    if name == "override-prompt":
        assert dialog[0].endswith("Reason (audited):") and "Enter confirm · Esc cancel" in dialog
    if name == "audit-detail":
        assert shows('"payload": {')
