"""The audit log: every event, following new ones; Enter shows one whole, ``/`` filters, j/k move."""

from __future__ import annotations

import json
import re

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from cockpit.events import Event, describe
from cockpit.rollout import Rollout
from widgets.key_bar import KeyBar

MAX_ROWS = 20_000
"""Rows kept in the list (the oldest go first); the log itself keeps everything."""

_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with control and bidi characters shown as ``\\uXXXX`` (a payload is data, not commands)."""
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def pretty(event: Event) -> str:
    """The whole event, indented JSON (payload, actor, hash chain)."""
    return printable(json.dumps(event.as_dict(), indent=2, sort_keys=True, ensure_ascii=False))


class EventDetail(ModalScreen[None]):
    """One event, whole and pretty-printed; Escape or Enter closes."""

    DEFAULT_CSS = """
    EventDetail { align: center middle; }
    EventDetail > Vertical {
        width: 90%; max-width: 110; height: auto; max-height: 90%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    EventDetail VerticalScroll { height: auto; max-height: 100%; }
    EventDetail .detail--keys { color: $text-muted; }
    """
    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close", id="detail.close")]

    def __init__(self, event: Event) -> None:
        super().__init__(id="audit-detail")
        self.event = event

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Event {self.event.seq}: {self.event.type}", classes="detail--title")
            with VerticalScroll():
                yield Static(Text(pretty(self.event)), id="detail-body")
            yield Static("Esc or Enter close · ↑/↓ scroll", classes="detail--keys")


class AuditScreen(Screen[None]):
    """Every event, oldest first; new ones are appended as they land (checked each second)."""

    DEFAULT_CSS = """
    AuditScreen > #audit-title { height: auto; background: $primary-background; padding: 0 1; text-style: bold; }
    AuditScreen > #audit-filter { display: none; }
    AuditScreen > #audit-filter.-visible { display: block; }
    AuditScreen > OptionList { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back", id="audit.back"),
        Binding("l,q", "app.pop_screen", "Back", show=False, id="audit.leave"),
        Binding("slash", "filter", "Filter", id="audit.filter"),
        Binding("j", "move(1)", "Down", show=False, id="audit.down"),
        Binding("k", "move(-1)", "Up", show=False, id="audit.up"),
        Binding("enter", "detail", "Detail", id="audit.detail"),
    ]

    def __init__(self, rollout: Rollout) -> None:
        super().__init__(id="audit")
        self.rollout = rollout
        self.last = 0
        """The newest event's seq listed."""
        self.events: list[Event] = []
        self.query_text = ""

    def compose(self) -> ComposeResult:
        yield Static(
            "Audit log (hash-chained; newest at the bottom, follows new events) · Enter: the whole event · /: filter",
            id="audit-title",
        )
        yield Input(placeholder="filter: any text of the row (type, actor, payload); Esc clears", id="audit-filter")
        yield OptionList(id="audit-log")
        yield KeyBar()

    def on_mount(self) -> None:
        self.follow()
        self.set_interval(1.0, self.follow)
        self.query_one(OptionList).focus()

    def matches(self, event: Event) -> bool:
        return not self.query_text or self.query_text in describe(event).lower()

    def option(self, event: Event) -> Option:
        return Option(Text(printable(describe(event))), id=str(event.seq))

    def follow(self) -> None:
        """Append the events that landed since the last look (and keep following the newest)."""
        new = list(self.rollout.store.read(self.last))
        if not new:
            return
        options = self.query_one(OptionList)
        at_end = options.highlighted is None or options.highlighted >= options.option_count - 1
        self.events.extend(new)
        self.last = new[-1].seq
        shown = [self.option(e) for e in new if self.matches(e)]
        if len(self.events) > MAX_ROWS:
            self.events = self.events[-MAX_ROWS:]
            self.redraw()
        elif shown:
            options.add_options(shown)
        if at_end and options.option_count:
            options.highlighted = options.option_count - 1

    def redraw(self) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options([self.option(e) for e in self.events if self.matches(e)])
        if options.option_count:
            options.highlighted = options.option_count - 1

    @on(Input.Changed, "#audit-filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.query_text = event.value.strip().lower()
        self.redraw()

    @on(Input.Submitted, "#audit-filter")
    def filter_done(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected, "#audit-log")
    def selected(self, event: OptionList.OptionSelected) -> None:
        self.show_detail(event.option.id)

    def show_detail(self, seq: str | None) -> None:
        found = next((e for e in self.events if str(e.seq) == seq), None)
        if found is not None:
            self.app.push_screen(EventDetail(found))

    def action_detail(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            self.show_detail(options.get_option_at_index(options.highlighted).id)

    def action_filter(self) -> None:
        box = self.query_one("#audit-filter", Input)
        box.add_class("-visible")
        box.focus()

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if step > 0:
            options.action_cursor_down()
        else:
            options.action_cursor_up()

    def action_back(self) -> None:
        """Escape: first clears the filter, then leaves."""
        box = self.query_one("#audit-filter", Input)
        if box.has_class("-visible"):
            box.value = ""
            box.remove_class("-visible")
            self.query_one(OptionList).focus()
            return
        self.app.pop_screen()
