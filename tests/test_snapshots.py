"""SVG snapshots of the dashboard at 80x24 and 160x48: healthy, breached, killed.

Frozen clock, fixed actor, no polling, no ports or paths on screen: the pictures are the same on
every run. Update with ``pytest tests/test_snapshots.py --snapshot-update`` and look at the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.clock import FakeClock
from screens.app import CockpitApp
from tests.tui_support import healthy_history, make_app, record_kill, soaking_rollout, until_started

SIZES = [(80, 24), (160, 48)]


def build(tmp_path: Path, state: str) -> CockpitApp:
    clock = FakeClock()
    app = make_app(tmp_path, clock=clock)
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
