"""The fleet's help: its keys (as the key bar binds them) and how to read a line."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Static

from screens.fleet_keys import BINDINGS as FLEET_BINDINGS
from screens.fleet_keys import describe


class FleetHelp(ModalScreen[None]):
    """The fleet's keys; Escape or ? closes."""

    DEFAULT_CSS = """
    FleetHelp { align: center middle; }
    FleetHelp > Static { width: 90%; max-width: 100; height: auto; border: thick $accent; background: $surface;
                         padding: 0 1; }
    """
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="help.close")]

    def compose(self) -> ComposeResult:
        lines = ["Keys"]
        for binding in FLEET_BINDINGS:
            if isinstance(binding, Binding):
                key = self.app.get_key_display(binding)
                lines.append(f"  {key:>8}  {describe(binding)}")
        lines += [
            "",
            "● waits on a human   ! and urgent (a breach, an incident, a kill not verified)",
            "METRICS: the worst status its cockpits last judged, and how long ago (STALE: none judges now).",
            "KILL: ARMED / NOT ARMED as its cockpit last checked; KILLED / KILL FAILED after a kill.",
            "A line marked (read-only) is a rollout you may sign nothing of: it opens read-only.",
        ]
        yield Static("\n".join(lines))
