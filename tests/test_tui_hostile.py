"""Hostile text on the dashboard: what a user typed or a monitored service sent reaches the screen with its
control characters shown (``\\u001b``), never obeyed: the result box, the banner, the metric panels and
the incident view (the headless paths are tests/test_hostile_text.py)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.widgets import Static

from screens.incident_view import IncidentScreen
from tests.tui_support import make_app, sign_all, to_stage
from widgets.banner import Banner

SIZE = (120, 40)
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\u009b31m\u202eevil\r"
CONTROLS = ("\x1b", "\x07", "\u009b", "\u202e", "\r")


def _plain(widget: Static) -> str:
    rendered = widget.render()
    return rendered.plain if isinstance(rendered, Text) else str(rendered)


def _clean(text: str) -> bool:
    return not any(c in text for c in CONTROLS) and "\\u001b" in text


async def test_hostile_text_reaches_the_dashboard_escaped(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    rollout = app.services.rollout
    sign_all(rollout)
    to_stage(rollout, "stage-2")
    rollout.open_breach("dlq_entries", HOSTILE, "< 10", stage="stage-2")  # a service's value, verbatim
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        screen.show_result([f"note added: {HOSTILE}"], error=True)  # what an action echoes back
        await pilot.pause()
        assert _clean(_plain(screen.query_one("#result", Static)))
        banner = _plain(screen.query_one(Banner))
        assert "BREACH dlq_entries" in banner and _clean(banner)
        rollout.record("incident.opened", {"reason": HOSTILE})
        app.push_screen(IncidentScreen(app.services))
        await pilot.pause()
        shown = "\n".join(_plain(w) for w in app.screen.query(Static))
        assert "INCIDENT #" in shown and _clean(shown)
