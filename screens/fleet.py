"""The fleet screen (``cockpit fleet``): every rollout on one line, those waiting on a human first.

The lines are the core's (:mod:`cockpit.fleet`); this screen lays them out, keeps them current and
acts on one rollout at a time. A worker thread reads what changed (a ``stat`` of each file log, the
rollouts PostgreSQL announced) every second and on each NOTIFY, so another process's approval is on
screen within a second. Enter opens the highlighted rollout's dashboard (Escape comes back); ``K``
kills the highlighted rollout only, after its id is typed: there is no fleet-wide kill.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from cockpit.fleet.open import close_services, open_services
from cockpit.fleet.row import FleetRow, sort_key
from cockpit.fleet.text import COLUMNS, cells, layout, printable
from cockpit.fleet.watch import Fleet
from cockpit.rollout import RolloutError
from cockpit.store.audit import AuditError
from screens.fleet_keys import BINDINGS
from screens.prompts import TextPrompt
from widgets.key_bar import KeyBar

REFRESH = 0.25
"""Seconds between looks at the file logs (a ``stat`` each; PostgreSQL announces its changes itself)."""
CLOCK_REDRAW = 5.0
"""Seconds between redraws when nothing was recorded (what only time changes: ages, soaks, deadlines)."""

SORTS = ("needs a human", "id", "last event")
"""The orders ``s`` cycles through, the first the default."""


class FleetScreen(Screen[None]):
    """One line per rollout; the highlighted one's details below."""

    CSS_PATH = "fleet.tcss"
    BINDINGS = BINDINGS

    @dataclass
    class Refreshed(Message):
        """The record was read; these rollouts' lines may have changed."""

        changed: set[str]

    @dataclass
    class Done(Message):
        lines: list[str]
        error: bool = False

    def __init__(self, fleet: Fleet, *, readonly: bool = False) -> None:
        super().__init__(id="fleet")
        self.fleet = fleet
        self.readonly = readonly
        self.rows: list[FleetRow] = []
        self.sort = 0
        self.filter = ""
        self._layout: list[tuple[str, int]] = []
        self._shown: list[tuple[str, tuple[str, ...]]] = []
        self._reading = False
        self._again = False
        self.drawn = 0
        """How many times the table was redrawn (tests, the bench)."""
        self.read_at = 0.0
        """When the last read of the record finished (monotonic)."""
        self._drawn_at = 0.0
        self._error = ""
        self._texts: dict[str, str] = {}
        self._ticks = 0

    def compose(self) -> ComposeResult:
        yield Static(id="fleet-title")
        yield Input(placeholder="filter: any text on a line (Escape clears)", id="fleet-filter")
        yield DataTable(id="fleet-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="fleet-detail")
        yield Static(id="fleet-result")
        yield KeyBar(alert=("kill",))

    def on_mount(self) -> None:
        self.query_one("#fleet-filter", Input).display = False
        self.query_one(DataTable).focus()
        self.columns()
        self.read()
        self.set_interval(REFRESH, self.tick)

    # ----------------------------------------------------------------- reading

    def tick(self) -> None:
        """Four times a second a ``stat`` of each file log (of each history once a second: the judgements are
        published at most that often), and a read if one changed. PostgreSQL
        announces its changes (LISTEN); it is read on the clock only every :data:`CLOCK_REDRAW` (the judgements'
        quiet heartbeats), or every second while its LISTEN is down."""
        now = time.monotonic()
        since = now - self.read_at
        pg = self.fleet.pg
        pg_due = pg is not None and not pg.connected.is_set() and since >= 1.0
        self._ticks += 1
        if pg_due or since >= CLOCK_REDRAW or self.fleet.files_changed(history=self._ticks % 4 == 0):
            self.read()
        elif now - self._drawn_at >= CLOCK_REDRAW and not self._reading:
            self.draw()  # what only time changes: ages, soaks, deadlines

    def read(self) -> None:
        """Read what changed (in a thread); a read asked for while one runs follows it."""
        if self._reading:
            self._again = True
            return
        self._reading = True
        self.read_record()

    @work(thread=True, group="fleet-read", exit_on_error=False)
    def read_record(self) -> None:
        try:
            changed = self.fleet.refresh()
        except Exception as exc:  # the record is unreadable now: said on screen, the next read still comes
            self.fleet.error = f"{type(exc).__name__}: {exc}"
            changed = set()
        self.app.call_from_thread(self.post_message, self.Refreshed(changed))

    @on(Refreshed)
    def refreshed(self, message: Refreshed) -> None:
        self._reading = False
        self.read_at = time.monotonic()
        if message.changed or self.fleet.error != self._error:
            self.draw()
        if self._again:
            self._again = False
            self.read()

    # ----------------------------------------------------------------- drawing

    def on_resize(self) -> None:
        if layout(self.size.width) != self._layout:
            self.columns()
            self.draw()

    def columns(self) -> None:
        """The columns this width has room for (``cockpit.fleet.text.layout``)."""
        self._layout = layout(self.size.width or self.app.size.width)
        table = self.query_one(DataTable)
        table.clear(columns=True)
        self._shown = []
        for name, width in self._layout:
            table.add_column(name, key=name, width=width)

    def shown_columns(self) -> list[str]:
        return [name for name, _ in self._layout]

    def ordered(self, rows: list[FleetRow]) -> list[FleetRow]:
        if self.filter:
            needle = self.filter.lower()
            rows = [r for r in rows if needle in " ".join(cells(r)).lower()]
        if SORTS[self.sort] == "id":
            return sorted(rows, key=lambda r: (r.id, r.where))
        if SORTS[self.sort] == "last event":
            return sorted(rows, key=lambda r: -(r.last_event.timestamp() if r.last_event else 0))
        return sorted(rows, key=sort_key)

    def draw(self) -> None:
        """Redraw the lines that changed (every line when the order or the columns changed)."""
        self.rows = self.fleet.rows()
        shown = self.ordered(self.rows)
        visible = self.shown_columns()
        index = [COLUMNS.index(c) for c in visible]
        lines = [(row.key, tuple(cells(row)[i] for i in index)) for row in shown]
        table = self.query_one(DataTable)
        if [key for key, _ in lines] != [key for key, _ in self._shown]:
            cursor = self.highlighted()
            table.clear()
            for row, (key, values) in zip(shown, lines, strict=True):
                table.add_row(*(self.styled(row, c, v) for c, v in zip(visible, values, strict=True)), key=key)
            if cursor is not None and cursor.key in [k for k, _ in lines]:
                table.move_cursor(row=[k for k, _ in lines].index(cursor.key), animate=False)
        else:
            by_key = {row.key: row for row in shown}
            for (key, values), (_, before) in zip(lines, self._shown, strict=True):
                for column, value, old in zip(visible, values, before, strict=True):
                    if value != old:
                        table.update_cell(key, column, self.styled(by_key[key], column, value))
        self._shown = lines
        self.drawn += 1
        self._drawn_at = time.monotonic()
        self._error = self.fleet.error
        self.title_line()
        self.detail()

    def styled(self, row: FleetRow, column: str, value: str) -> Text:
        style = ""
        if column == "" or (column == "WAITING ON" and row.needs_human):
            style = "bold red" if row.urgency >= 4 else "bold"
        elif column == "KILL":
            style = "bold red" if row.kill in ("NOT ARMED", "KILL FAILED") else ""
        elif column == "METRICS" and (row.metric not in ("OK", "") or row.metric_stale):
            style = "bold red" if row.metric == "BREACH" else "yellow"
        return Text(value, style=style, no_wrap=True, overflow="ellipsis")

    def title_line(self) -> None:
        waiting = sum(1 for r in self.rows if r.needs_human)
        parts = [f"FLEET · {len(self.rows)} rollouts · {waiting} waiting on a human · sorted: {SORTS[self.sort]}"]
        if self.filter:
            parts.append(f"filter: {printable(self.filter, 40)}")
        if self.readonly:
            parts.append("[READONLY]")
        if self.fleet.error:
            parts.append(f"⚠ {printable(self.fleet.error, 120)}")
        self.update_static("#fleet-title", " · ".join(parts))

    def highlighted(self) -> FleetRow | None:
        table = self.query_one(DataTable)
        if not self._shown or table.cursor_row < 0 or table.cursor_row >= len(self._shown):
            return None
        key = self._shown[table.cursor_row][0]
        return next((r for r in self.rows if r.key == key), None)

    def detail(self) -> None:
        row = self.highlighted()
        text = ""
        if row is not None:
            c = dict(zip(COLUMNS, cells(row), strict=True))
            soak = f" {row.soak}" if row.soak else ""
            text = (
                f"{c['ROLLOUT']} · {printable(row.stage)}{soak} · gate {c['GATE']} · {c['SERVICE']}\n"
                f"waiting on: {c['WAITING ON']}\n"
                f"flags {c['CANARY']} · metrics {c['METRICS']} · kill {c['KILL']}: {printable(row.kill_reason)}"
            )
            if row.readonly:
                text += f"\n{printable(row.readonly)}"
        self.update_static("#fleet-detail", text)

    def update_static(self, selector: str, text: str) -> None:
        """Update a Static only when its text changed (an unchanged one is not redrawn)."""
        if self._texts.get(selector) != text:
            self._texts[selector] = text
            self.query_one(selector, Static).update(Text(text))

    @on(DataTable.RowHighlighted)
    def highlighted_changed(self) -> None:
        self.detail()

    # ----------------------------------------------------------------- actions

    @on(DataTable.RowSelected)
    def selected(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        row = self.highlighted()
        if row is None:
            return
        readonly = self.readonly or bool(row.readonly)
        try:
            services = open_services(self.fleet.tracked[row.key], readonly=readonly)
        except (RolloutError, AuditError, OSError) as exc:
            self.show([str(exc)], error=True)
            return
        self.app.open_dashboard(services, readonly=readonly)  # type: ignore[attr-defined]

    def action_kill(self) -> None:
        """Which rollout: the highlighted one, confirmed by typing its id. Never the fleet."""
        row = self.highlighted()
        if row is None:
            return
        if self.readonly:
            self.show(["read-only: this fleet offers no kill (open the rollout's own cockpit)"], error=True)
            return
        if row.readonly:  # as its dashboard would open: read-only, no kill key
            self.show([f"{row.readonly}; to kill it anyway: cockpit kill --config PLAN, where its plan is"], error=True)
            return

        def confirmed(typed: str | None) -> None:
            if typed:
                self.kill(row)

        self.app.push_screen(
            TextPrompt(
                f"KILL {printable(row.id)}: every flag of this one rollout off. Type its id to confirm:",
                placeholder=printable(row.id),
                must_equal=row.id,
            ),
            confirmed,
        )

    @work(group="fleet-kill", exit_on_error=False)
    async def kill(self, row: FleetRow) -> None:
        try:
            services = open_services(self.fleet.tracked[row.key])
        except (RolloutError, AuditError, OSError) as exc:
            self.post_message(self.Done([f"no kill: {exc}"], error=True))
            return
        try:
            report = await services.need_switch().kill(f"kill key pressed in the fleet on {row.id}")
            lines = [f"KILL {row.id}: {report.verdict}", *report.summary()]
            if report.backout:
                lines += ["do this by hand now:" if not report.all_off else "also:", *report.backout]
            self.post_message(self.Done(lines, error=not report.all_off))
        except Exception as exc:
            text = services.rollout.loaded.env.redact(f"kill of {row.id} failed: {type(exc).__name__}: {exc}")
            self.post_message(self.Done([str(text)], error=True))
        finally:
            await close_services(services)
        self.read()

    @on(Done)
    def done(self, message: Done) -> None:
        self.show(message.lines, error=message.error)

    def show(self, lines: list[str], *, error: bool = False) -> None:
        result = self.query_one("#fleet-result", Static)
        result.set_class(error, "-error")
        result.update(Text("\n".join(printable(line, 400) for line in lines)))

    def action_filter(self) -> None:
        box = self.query_one("#fleet-filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#fleet-filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.filter = event.value.strip()
        self.draw()

    @on(Input.Submitted, "#fleet-filter")
    def filter_done(self) -> None:
        self.query_one(DataTable).focus()

    def key_escape(self) -> None:
        box = self.query_one("#fleet-filter", Input)
        if box.display:
            box.value = ""
            box.display = False
            self.query_one(DataTable).focus()

    def action_sort(self) -> None:
        self.sort = (self.sort + 1) % len(SORTS)
        self.draw()
