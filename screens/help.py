"""Help: every key (as remapped by the plan) and how to read the screen."""

from __future__ import annotations

from typing import cast

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from screens.actions import BINDINGS, DESCRIPTIONS
from screens.host import CockpitHost

LEGEND = [
    "Status is a word and a shape, never only a colour:",
    "  ✔ OK   ▲ WARN   ✘ BREACH   ◌ STALE   ∅ NO DATA   ? INCONCLUSIVE   ! ERROR",
    "Stages: ✔ done  ▸ current  ✘ current and blocked (the reasons follow)  · to come  ⚑ point of no return",
    "Gate: ✔ done  ☐ missing  ◷ soaking (elapsed / required)   Banner: ◷ auto-kill countdown",
    "The kill key has no dialog: turning flags off is the safe direction. It then shows each flag's verified "
    "result, or the manual backout command when a flag could not be confirmed off.",
    "A dimmed key cannot be used now: press it to see why.",
    "Nothing lives only on this screen: quit or lose the SSH session and reopen; it is rebuilt from the audit "
    "log and the sample history. Ctrl+P lists every action with its key.",
]
"""One paragraph an item: each wraps at the dialog's width as a whole (never broken in the middle)."""


class HelpScreen(ModalScreen[None]):
    """The keys and the legend; Escape or ? closes."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; max-width: 100; height: 90%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    HelpScreen .help--keys { color: $text-muted; }
    """
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="help.close")]

    @property
    def host(self) -> CockpitHost:
        """The App (the cockpit's, or the fleet's under a dashboard), as the dashboard sees it."""
        return cast(CockpitHost, self.app)

    def compose(self) -> ComposeResult:
        keymap = self.host.keymap
        keys = Table.grid(padding=(0, 2, 0, 0))  # a description wraps under itself, not under the key
        keys.add_column(justify="right", no_wrap=True, style="bold")
        keys.add_column(ratio=1)
        for binding in BINDINGS:
            if not isinstance(binding, Binding):
                continue
            key = keymap.get(binding.id or "", binding.key)
            key = self.app.get_key_display(Binding(key, binding.action))
            keys.add_row(key, DESCRIPTIONS.get(binding.id or "", binding.description))
        with VerticalScroll():
            yield Static(Group(Text("Keys", style="bold"), keys, Text(""), Text("\n".join(LEGEND))))
            yield Static("Esc or ? close · ↑/↓ scroll", classes="help--keys")
