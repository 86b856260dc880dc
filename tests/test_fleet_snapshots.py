"""SVG snapshots of the fleet screen at 80x24 and 120x40, rollouts in every state.

Frozen clock, fixed user, no paths on screen: the pictures are the same on every run. Update with
``pytest tests/test_fleet_snapshots.py --snapshot-update`` and look at the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from screens.fleet import FleetScreen
from tests.fleet_support import build_fleet
from tests.test_fleet_tui import fleet_app

SIZES = [(80, 24), (120, 40)]


async def until_drawn(pilot: Pilot[None]) -> None:
    for _ in range(300):
        screen = pilot.app.screen
        if isinstance(screen, FleetScreen) and screen._shown:
            await pilot.pause()
            return
        await pilot.pause(0.01)
    raise AssertionError("the fleet was not drawn within 3 s")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_fleet(snap_compare: object, tmp_path: Path, size: tuple[int, int]) -> None:
    build_fleet(tmp_path)
    app = fleet_app(tmp_path)
    assert snap_compare(app, terminal_size=size, run_before=until_drawn)  # type: ignore[operator]
