"""The audit log, scrollable, following new events (from this cockpit or any other on the log)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import RichLog, Static

from cockpit.events import describe
from cockpit.rollout import Rollout
from widgets.key_bar import KeyBar


class AuditScreen(Screen[None]):
    """Every event, oldest first; new ones are appended as they land (checked each second)."""

    DEFAULT_CSS = """
    AuditScreen > #audit-title { height: 1; background: $primary-background; padding: 0 1; text-style: bold; }
    AuditScreen > RichLog { height: 1fr; }
    """
    BINDINGS = [Binding("escape,l,q", "app.pop_screen", "Back", id="audit.back")]

    def __init__(self, rollout: Rollout) -> None:
        super().__init__(id="audit")
        self.rollout = rollout
        self.last = 0

    def compose(self) -> ComposeResult:
        yield Static("Audit log (hash-chained; newest at the bottom, follows new events)", id="audit-title")
        yield RichLog(id="audit-log", wrap=False, auto_scroll=True, max_lines=20_000, markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        self.follow()
        self.set_interval(1.0, self.follow)

    def follow(self) -> None:
        log = self.query_one(RichLog)
        for event in self.rollout.store.read(self.last):
            log.write(describe(event))
            self.last = event.seq
