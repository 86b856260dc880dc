"""The dashboard: the screen an on-call engineer stares at for a 24 h soak.

Everything shown is rebuilt from the audit log and the sample history on each refresh; the only
thing kept here is the last flag readings and the last action's result lines (both redrawn from the
log on the next check). The screen is composed of parts: the workers (each metric polled on its own
re-armed grid, judging, the arm check) live in the :class:`screens.watcher.Watcher`; what each key does in
:class:`screens.actions.Actions`; the metric panels in :class:`widgets.metric_board.MetricBoard`; the alerts
in :mod:`widgets.banner`. Whether a key is offered and usable now is the core's answer
(:mod:`cockpit.controls`). This module lays the screen out, routes keys and messages, and draws.
"""

from __future__ import annotations

import time
from typing import Any, cast

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Static

from cockpit.controls import offered, why_not
from cockpit.gates import next_action
from cockpit.plan.model import Stage
from cockpit.rollout import Rollout
from cockpit.session import Services
from cockpit.text import visible
from screens.actions import BINDINGS, Actions
from screens.host import CockpitHost
from screens.watcher import Watcher
from widgets.banner import Banner, banner_lines
from widgets.flag_table import FlagTable
from widgets.gate import Gate, hhmm
from widgets.key_bar import KeyBar
from widgets.metric_board import MetricBoard
from widgets.stage_stepper import StageStepper

NARROW = 110
"""Below this width the side column stacks above the metrics."""


class DashboardScreen(Screen[None]):
    """Metric panels, stage stepper, gate, flags and the banner; every key in the key bar."""

    CSS_PATH = "dashboard.tcss"
    BINDINGS = BINDINGS

    seen: reactive[int] = reactive(0)
    """Events folded so far; a change (ours or another cockpit's) re-checks which keys make sense."""

    def __init__(self, services: Services) -> None:
        super().__init__(id="dashboard")
        self.services = services
        self.watcher = Watcher(services)
        """Polls, judging and the arm check (composed: it draws nothing, its findings come as messages)."""
        self.actions = Actions(services)
        """What each key does (composed: it draws nothing, each result comes as an ``Actions.Done``)."""
        self.board = MetricBoard(services, id="metrics")
        """The watched stage's metric panels (begun after the first frame is on screen)."""
        self.lines: list[str] = []
        self.lines_error = False
        self.started = False
        """The panels are mounted and (when live) polling has begun: after the first frame."""
        self._drawn = 0.0
        """When ``refresh_view`` last ran (monotonic)."""
        self._texts: dict[str, str] = {}
        self._reread_for = 0
        """The newest flag event the flags were read again for (``flag_readings``)."""

    # ----------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield Banner(id="banner")
        yield Static(id="title")
        with Horizontal(id="body"):
            # the side: docked left when wide; first when narrow. Its steps: the stepper above the flags and
            # gate when wide, beside them when narrow
            with VerticalScroll(id="side"), Vertical(id="steps"):
                yield StageStepper(id="stepper")
                with Vertical(id="state"):
                    yield FlagTable(id="flags")
                    yield Gate(id="gate")
            yield self.board  # text metrics full width above an even grid of charts
        yield Static(id="result")
        yield Static(id="guide")
        yield KeyBar(alert=("kill",))  # every key offered now, wrapped, never cut at the edge
        yield self.watcher
        yield self.actions

    def on_mount(self) -> None:
        self.watcher.readonly = self.host.readonly
        self.set_reactive(DashboardScreen.seen, self.services.rollout.state.count)  # the bindings are fresh
        self.refresh_view()
        self.set_timer(2.0, self.after_first_frame)  # should the App's Ready never come (it does at once)

    def after_first_frame(self) -> None:
        """The stage, gate, flags and keys are on screen (``App.on_ready``): now the panels, then the polls."""
        if self.board.begun:
            return
        self.board.begin()
        self.refresh_view()
        if self.services.live:
            self.call_after_refresh(self.go_live)
        else:
            self.started = True

    def go_live(self) -> None:
        """Polls, judging, the arm check and the 1 s tick (the kill switch is built now if it was deferred)."""
        self.services.connect()
        self.watcher.start()
        self.set_interval(1.0, self.tick)
        self.started = True

    def on_resize(self) -> None:
        self.query_one("#body").set_class(self.size.width < NARROW, "-narrow")
        self.refresh_view(metrics=False)

    def redraw_metric(self, metric: str) -> None:
        """A new sample of ``metric``: redraw its panel if the watched stage shows it."""
        with self.services.shield():  # an outage of the shared record is DEGRADED, never a crash
            stage = watched_stage(self.services.rollout)
            if self.board.shows(stage, metric):
                self.board.draw(stage, self.services.rollout.now(), only=metric)

    @on(Actions.Done)
    def action_done(self, message: Actions.Done) -> None:
        if self.watcher.arm is not None:  # a kill or a canary step made the last reading stale: read again
            self.watcher.read_flags_again()
        self.show_result(message.lines, error=message.error, whole=message.whole)
        self.refresh_view()

    def show_result(self, lines: list[str], *, error: bool = False, whole: bool = False) -> None:
        """The last action's result, wrapped; past ``result_cap`` lines the rest is counted, not cut
        (``whole``: every line, for a kill's result)."""
        self.lines, self.lines_error = lines, error
        result = self.query_one("#result", Static)
        result.set_class(error, "-error")
        result.set_class(bool(lines), "-visible")
        cap = len(lines) if whole else self.result_cap
        shown = lines if len(lines) <= cap else [*lines[: cap - 1], f"… {len(lines) - cap + 1} more"]
        result.update(Text("\n".join(visible(line) for line in shown)))  # service errors, notes: no raw controls

    @property
    def result_cap(self) -> int:
        """How many lines of an action's result fit under the stepper, gate and flags (fewer when narrow)."""
        return 6 if self.size.width < NARROW or self.size.height < 30 else 10

    @property
    def host(self) -> CockpitHost:
        """The App, as the dashboard's parts see it (its read-only mode, the demo's hooks)."""
        return cast(CockpitHost, self.app)

    # ----------------------------------------------------------------- the keys: each is an action of Actions

    def action_kill(self) -> None:
        self.actions.kill()

    def action_cancel_autokill(self) -> None:
        self.actions.cancel_autokill()

    def action_approve(self) -> None:
        self.actions.approve()

    def action_revoke(self) -> None:
        self.actions.revoke()

    def action_tick(self) -> None:
        self.actions.tick()

    def action_note(self) -> None:
        self.actions.note()

    def action_baseline(self) -> None:
        self.actions.baseline()

    def action_verify(self) -> None:
        self.actions.verify()

    def action_advance(self) -> None:
        self.actions.advance()

    def action_override(self) -> None:
        self.actions.override()

    def action_canary(self) -> None:
        self.actions.canary()

    def action_incident(self) -> None:
        self.actions.incident()

    def action_audit(self) -> None:
        self.actions.audit()

    def action_export(self) -> None:
        self.actions.export()

    def action_demo_flood(self) -> None:
        self.actions.demo_flood()

    # ----------------------------------------------------------------- drawing

    def tick(self) -> None:
        """Each second: timers and other cockpits' events, unless judging redrew within the second (it
        usually has: it runs every second too); the metrics wait for the next poll."""
        if time.monotonic() - self._drawn >= 0.9:
            self.refresh_view(metrics=False)

    def refresh_view(self, *, metrics: bool = True, judged: tuple[str, list[Any]] | None = None) -> None:
        """Redraw from the audit log and the history (widgets skip what did not change); ``judged``: a
        stage's judgements just made from the same history, (stage id, rows)."""
        self._drawn = time.monotonic()
        with self.services.shield():  # an outage of the shared record is DEGRADED, never a crash
            self._refresh_view(metrics, judged)
        if self.services.trouble:  # what failed is said where the outage is
            self.query_one(Banner).show(banner_lines(self.services, self.services.rollout.clock.now()))

    def _refresh_view(self, metrics: bool, judged: tuple[str, list[Any]] | None) -> None:
        s = self.services
        rollout = s.rollout
        state = rollout.state
        now = rollout.now()
        plan = rollout.plan
        blockers = s.gate_blockers(judged)
        self.seen = state.count
        stage = watched_stage(rollout)
        mode = "  \\[READONLY]" if self.host.readonly else ""  # escaped: Textual markup would swallow it
        service = "" if self.size.width < NARROW else f"{plan.rollout.service} · "  # narrow: one line
        title = f"{hhmm(now)} · {rollout.actor.user}@{rollout.actor.host}{mode} · {service}{plan.rollout.version}"
        stand_ins = self.host.demo.header if self.host.demo is not None else []
        if stand_ins:  # said once, where the sources are named: what the demo reads instead of what
            title += "\nDEMO · " + " · ".join(stand_ins)
        self.update_static("#title", title)
        stepper = self.query_one(StageStepper)
        # narrow, or with a breach, kill or incident in the banner: one reason, so the flags and gate stay in view
        stepper.compact = self.size.width < NARROW or bool(state.breaches or state.kills or state.open_incident)
        stepper.show(plan, state, blockers)
        self.query_one(Gate).show(plan, state, blockers, now, next_action(plan, state))
        self.query_one(FlagTable).show(plan, state, self.flag_readings(), self.watcher.arm)
        self.query_one(Banner).show(banner_lines(self.services, now))
        if self.board.begun and (metrics or stage.id != self.board.stage_id):
            self.board.draw(stage, now, judged=judged)
        guide = self.query_one("#guide", Static)
        if self.host.demo is not None:
            self.update_static("#guide", f"DEMO → {self.host.demo.hint(rollout, blockers)}")
        if guide.display != (self.host.demo is not None):
            guide.display = self.host.demo is not None

    def flag_readings(self) -> dict[str, Any]:
        """The last readings, but not of a flag changed since (another cockpit's or shell's ``flag set``, seen in
        the record at once): the table shows that flag as recorded, and the flags are read again now."""
        state = self.services.rollout.state
        arm = self.watcher.arm
        readings = dict(arm.readings) if arm is not None else {}
        newer = [
            name for name, flag in state.flags.items() if flag.mark.seq > self.watcher.armed_seq and name in readings
        ]
        for name in newer:
            del readings[name]
        latest = max((state.flags[name].mark.seq for name in newer), default=0)
        if latest > self._reread_for:  # once per change: a failing provider is not read every second
            self._reread_for = latest
            self.watcher.last_arm = None  # the next judging round (within a second) reads the flags
        return readings

    def update_static(self, selector: str, text: str) -> None:
        """Update a Static only when its text changed (nothing else is redrawn)."""
        if self._texts.get(selector) != text:
            self._texts[selector] = text
            self.query_one(selector, Static).update(text)

    def watch_seen(self) -> None:
        self.refresh_bindings()

    # ----------------------------------------------------------------- which keys make sense

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Shown (True), shown dimmed because it cannot be used now (None: a press says why), or not
        offered at all (False: a write in --readonly, the demo's flood outside the demo)."""
        if not offered(action, self.services, readonly=self.host.readonly, demo=self.host.demo is not None):
            return False
        return None if why_not(action, self.services) else True

    def on_key(self, event: events.Key) -> None:
        """A dimmed key pressed: say why it cannot be used now (Textual would ignore it silently)."""
        active = self.active_bindings.get(event.key)
        if active is None or active.enabled or active.node is not self:
            return
        why = why_not(active.binding.action, self.services)
        if why:
            event.stop()
            self.show_result([f"{active.binding.description}: not now: {why}"], error=True)

    # ----------------------------------------------------------------- what the watcher found

    def on_watcher_sampled(self, message: Watcher.Sampled) -> None:
        self.redraw_metric(message.metric)

    def on_watcher_armed(self, message: Watcher.Armed) -> None:
        if message.arm is None and message.error:
            self.show_result([message.error], error=True)
        self.refresh_view(metrics=False)

    def on_watcher_judged(self, message: Watcher.Judged) -> None:
        if message.fired:
            self.show_result(["AUTO-KILL FIRED", *message.fired], error=True)
        elif message.error:
            self.show_result([message.error], error=True)
        self.refresh_view(judged=(message.stage, message.judgements) if message.stage else None)


def watched_stage(rollout: Rollout) -> Stage:
    """The current stage, or the latest earlier one with thresholds (Stage 1 has none), or Stage 0."""
    plan = rollout.plan
    index = max(rollout.state.stage_index, 0)
    for stage in reversed(plan.stages[: index + 1]):
        if stage.thresholds:
            return stage
    return plan.stages[0]
