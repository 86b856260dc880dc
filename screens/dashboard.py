"""The dashboard: the screen an on-call engineer stares at for a 24 h soak.

Everything shown is rebuilt from the audit log and the sample history on each refresh; the only
thing kept here is the last flag readings and the last action's result lines (both redrawn from the
log on the next check). The workers (each metric polled on its own re-armed grid, judging, the arm
check) live in the composed :class:`screens.watcher.Watcher`; this module lays the screen out and draws it.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Static

from cockpit.gates import next_action, past_point_of_no_return
from cockpit.incident import incident_view
from cockpit.plan.model import Stage, format_duration
from cockpit.plan.thresholds import Threshold
from cockpit.readings import TABLE, format_reading
from cockpit.session import Services
from cockpit.store.audit import TornTail, cut_short_message
from cockpit.text import visible
from screens.actions import BINDINGS, WRITES, Actions
from screens.watcher import Watcher
from widgets.banner import Banner
from widgets.flag_table import FlagTable
from widgets.gate import Gate, hhmm
from widgets.key_bar import KeyBar
from widgets.stage_stepper import StageStepper

NARROW = 110
"""Below this width the side column stacks above the metrics."""

CHART_DOTS = 320
"""Time buckets a chart is read in before its panel has a width (two braille dots a cell: 160 columns);
each bucket keeps its lowest and highest sample."""


class DashboardScreen(Actions, Screen[None]):  # type: ignore[misc]  # the Actions mixin narrows .app
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
        self.lines: list[str] = []
        self.lines_error = False
        self._stage_id: str | None = None
        """The stage whose panels are mounted; None until the first frame is on screen."""
        self.started = False
        """The panels are mounted and (when live) polling has begun: after the first frame."""
        self._drawn = 0.0
        """When ``refresh_view`` last ran (monotonic)."""
        self._plotted: dict[str, Any] = {}
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
            with VerticalScroll(id="metrics"):  # text metrics full width above an even grid of charts
                yield Vertical(id="metric-texts")
                yield Grid(id="metric-charts")
        yield Static(id="result")
        yield Static(id="guide")
        yield KeyBar(alert=("kill",))  # every key offered now, wrapped, never cut at the edge
        yield self.watcher

    def on_mount(self) -> None:
        self.watcher.readonly = self.app.readonly
        self.set_reactive(DashboardScreen.seen, self.services.rollout.state.count)  # the bindings are fresh
        self.refresh_view()
        self.set_timer(2.0, self.after_first_frame)  # should the App's Ready never come (it does at once)

    def after_first_frame(self) -> None:
        """The stage, gate, flags and keys are on screen (``App.on_ready``): now the panels, then the polls."""
        if self._stage_id is not None:
            return
        self._stage_id = ""
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
            if stage.id == self._stage_id and any(rule.metric == metric for rule in stage.thresholds):
                self.draw_metrics(stage, self.services.rollout.now(), only=metric)

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
            self.query_one(Banner).show(self.banner_lines(self.services.rollout.clock.now()))

    def _refresh_view(self, metrics: bool, judged: tuple[str, list[Any]] | None) -> None:
        s = self.services
        rollout = s.rollout
        state = rollout.state
        now = rollout.now()
        plan = rollout.plan
        blockers = s.gate_blockers(judged)
        self.seen = state.count
        stage = watched_stage(rollout)
        mode = "  \\[READONLY]" if self.app.readonly else ""  # escaped: Textual markup would swallow it
        service = "" if self.size.width < NARROW else f"{plan.rollout.service} · "  # narrow: one line
        title = f"{hhmm(now)} · {rollout.actor.user}@{rollout.actor.host}{mode} · {service}{plan.rollout.version}"
        stand_ins = self.app.demo.header if self.app.demo is not None else []
        if stand_ins:  # said once, where the sources are named: what the demo reads instead of what
            title += "\nDEMO · " + " · ".join(stand_ins)
        self.update_static("#title", title)
        stepper = self.query_one(StageStepper)
        # narrow, or with a breach, kill or incident in the banner: one reason, so the flags and gate stay in view
        stepper.compact = self.size.width < NARROW or bool(state.breaches or state.kills or state.open_incident)
        stepper.show(plan, state, blockers)
        self.query_one(Gate).show(plan, state, blockers, now, next_action(plan, state))
        self.query_one(FlagTable).show(plan, state, self.flag_readings(), self.watcher.arm)
        self.query_one(Banner).show(self.banner_lines(now))
        if self._stage_id is not None and (metrics or stage.id != self._stage_id):
            self.draw_metrics(stage, now, judged=judged)
        guide = self.query_one("#guide", Static)
        if self.app.demo is not None:
            self.update_static("#guide", f"DEMO → {self.app.demo.hint(rollout, blockers)}")
        if guide.display != (self.app.demo is not None):
            guide.display = self.app.demo is not None

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

    def banner_lines(self, now: datetime) -> list[str]:
        state = self.services.rollout.state
        plan = self.services.rollout.plan
        lines = []
        store = self.services.rollout.store
        degraded = self.services.degraded()  # PostgreSQL unreachable: the mirror, the spool, this cockpit's polls
        if degraded is not None:
            lines.append(f"⚠ STORE DEGRADED: {degraded}")
        torn = store.torn
        if isinstance(torn, TornTail):  # a crash mid-write: shown as of the line before; new events are refused
            lines.append(f"✘ AUDIT LOG TORN at line {torn.line}: run 'cockpit audit repair' (the kill still works)")
        elif torn is not None:  # lines dropped from the end: the witnessed head is missing; new events are refused
            lines.append(
                f"✘ AUDIT LOG CUT SHORT: {cut_short_message(torn.seq, torn.witnessed)}: "
                "run 'cockpit audit verify', then 'cockpit audit repair' (the kill still works)"
            )
        breached = bool(state.breaches)
        for b in state.breaches.values():
            value = "None" if b.value is None else format_reading(b.value, "", TABLE)  # a breach opened without a value
            lines.append(f"✘ BREACH {b.metric} = {value} (limit {b.threshold}) since {hhmm(b.opened.at)}")
        auto = self.services.autokill
        if auto is not None:
            for metric, seconds in auto.countdowns().items():
                lines.append(f"◷ AUTO-KILL in {format_duration(timedelta(seconds=seconds))} on {metric} (x cancels)")
        if state.kills:
            kill = state.kills[-1]
            since = [f"{f} ({st.percent}%)" for f, st in state.flags.items() if st.enabled and st.mark.seq > kill.seq]
            still = [f for f, st in state.flags.items() if st.enabled and st.mark.seq <= kill.seq]
            parts = (["flags still ON: " + ", ".join(still)] if still else []) + (
                ["re-enabled since: " + ", ".join(since)] if since else []
            )  # a canary step after the kill is news, not a failed kill
            after = "; ".join(parts) or "all flags recorded off"
            lines.append(f"■ KILLED {hhmm(kill.time)} by {kill.actor.user}: {after}")
        incident = state.open_incident
        if incident is not None:
            pending = [v for v in incident_view(plan, state, now) if not v.done]
            overdue = sum(1 for v in pending if v.overdue)
            nxt = f" · {overdue} step(s) OVERDUE" if overdue else ""
            if pending:  # the first thing still to do, and its deadline (the whole step: i)
                step = pending[0]
                action = next(text for text, mark in step.actions if mark is None)
                gist = action.partition(": ")[0]  # "Disable feature flag(s): A=false, B=false"
                left = step.deadline - now
                when = f"in {format_duration(left)}" if left.total_seconds() >= 1 else "due now"
                nxt += f" · next ({when}): {gist}"  # its details: in the incident view
            # the breach or kill line above says why; the incident's own reason only when it does not
            why = "" if breached or state.kills else f": {incident.reason}"
            lines.append(f"⚠ INCIDENT #{incident.id} open{why}{nxt} (i to view)")
        pnr = past_point_of_no_return(plan, state)
        if pnr is not None and (state.breaches or state.kills):  # its backout: in the kill's result and i
            lines.append("⚑ past the point of no return: flags off is not a full backout (i: its backout)")
        return lines

    def draw_metrics(
        self, stage: Stage, now: datetime, *, only: str | None = None, judged: tuple[str, list[Any]] | None = None
    ) -> None:
        """Panels of ``stage`` (``only``: just that metric's, judging just its rows; ``judged``: the
        stage's judgements if just made); a chart redraws only when what it can show changed."""
        from widgets.metric_panel import MetricPanel  # lazy: plotext loads after the first frame is on screen

        s = self.services
        plan = s.rollout.plan
        box = self.query_one("#metrics", VerticalScroll)
        current = rollout_stage_title(s)
        title = (
            f"{stage.title}: thresholds"
            if current == stage.title
            else f"{current}: no thresholds; watching {stage.title}"
        )
        if box.border_title != title:  # the current stage may change while the watched one stays
            box.border_title = title
        if stage.id != self._stage_id:
            self._stage_id = stage.id
            self._plotted.clear()
            texts, charts = self.query_one("#metric-texts", Vertical), self.query_one("#metric-charts", Grid)
            texts.remove_children()
            charts.remove_children()
            panels = [
                MetricPanel(
                    rule.metric,
                    rule.label,
                    str(rule.threshold),
                    signed=rule.threshold.kind == "relative",
                    raw_unit=plan.metrics[rule.metric].unit,
                    chart=plan.metrics[rule.metric].kind != "text",
                    id=f"metric-{stage.id}-{i}",
                )
                for i, rule in enumerate(stage.thresholds)
            ]
            with_chart = [p for p in panels if p.has_chart]
            if len(with_chart) % 2:  # the odd one out takes the whole last row: no hole in the grid
                with_chart[-1].add_class("-wide")
            texts.mount_all([p for p in panels if not p.has_chart])
            charts.mount_all(with_chart)
            self.call_after_refresh(self.refresh_view)
            return
        if judged is not None and judged[0] == stage.id and only is None:
            judgements = judged[1]
        else:
            judgements = s.monitor.judge(stage.id, only=only) if s.monitor is not None else []
        rows = iter(judgements)  # in the stage's order, of the rows drawn
        state = s.rollout.state
        window = self.chart_window(stage, now)
        for i, rule in enumerate(stage.thresholds):
            if only is not None and rule.metric != only:
                continue
            judgement = next(rows, None)
            try:
                panel = self.query_one(f"#metric-{stage.id}-{i}", MetricPanel)
            except NoMatches:  # the stage's panels are being rebuilt
                continue
            panel.show(judgement, note=s.notes.get(rule.metric, ""))
            if not panel.has_chart:
                continue
            # A chart redraws when what it can show changed: a sample in a new dot column (a 24 h chart
            # 40 cells wide has a column per 18 min), a new status (a breach shows at once), the baseline,
            # and once a minute as the axis moves on; not on every 5 s poll, which would cost more CPU than
            # everything else the dashboard does and look the same.
            dots = 2 * panel.size.width or CHART_DOTS  # braille: two dots a cell
            per_dot = max((now - window).total_seconds() / dots, 1.0)
            good = s.history.latest_good(rule.metric)  # a failed poll adds no point to the chart
            column = int((good.at - window).total_seconds() // per_dot) if good else None
            anchored = window != now - timedelta(hours=1)  # a soak's start, not a sliding hour
            minute = int(now.timestamp() // 60)
            status = str(getattr(judgement, "status", ""))
            key = (column, status, state.baseline_mark, window if anchored else None, minute)
            if self._plotted.get(panel.id or "") == key:
                continue
            self._plotted[panel.id or ""] = key
            base = state.baseline.get(rule.metric)
            baseline = base.value if base else None
            points = s.history.series(rule.metric, window, now, dots)  # a spike survives the thinning
            panel.plot(points, limits(rule.threshold, baseline), baseline, start=window, now=now)

    def chart_window(self, stage: Stage, now: datetime) -> datetime:
        """The running soak's start (at most 48 h back), else the last hour."""
        soaks = [s for s in self.services.rollout.state.soaks.values() if s.stage == stage.id and not s.done(now)]
        if soaks:
            return max(min(s.first_started or s.started for s in soaks), now - timedelta(hours=48))
        return now - timedelta(hours=1)

    # ----------------------------------------------------------------- which keys make sense

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Shown (True), shown dimmed because it cannot be used now (None: a press says why), or not
        offered at all (False: a write in --readonly, the demo's flood outside the demo)."""
        if action in WRITES and self.app.readonly:
            return False
        if action == "demo_flood" and self.app.demo is None:
            return False
        if action in ("kill", "canary") and not self.services.offers_kill:
            return False
        return None if self.why_not(action) else True

    def why_not(self, action: str) -> str:
        """Why ``action`` cannot be used now ("" when it can): said when its dimmed key is pressed."""
        r = self.services.rollout
        state = r.state
        stage = r.current_stage
        if action == "approve" and all(a.role in state.approvals for a in r.plan.approvers):
            return "every approval role has signed (r revokes one)"
        if action == "revoke" and not state.approvals:
            return "no approval to revoke"
        if action in ("tick", "verify", "canary") and stage is None:
            return "no stage entered yet: sign the approvals (a), then enter Stage 0 (g)"
        if action == "tick" and stage is not None and all((stage.id, i.id) in state.ticks for i in stage.items):
            return f"every checklist item of {stage.title} is ticked"
        if action == "baseline":
            target = stage or r.plan.stages[0]
            if self.services.monitor is None:
                return "no metrics are polled here: nothing to capture"
            if stage is None:
                return f"the baseline is captured in {target.title}: sign the approvals (a) and enter it (g) first"
            if not stage.captures_baseline:
                return f"{stage.title} captures no baseline (it was captured in the stage that does)"
        if action == "verify" and stage is not None and not stage.checks:
            return f"{stage.title} has no verification checks"
        if action == "canary" and stage is not None and self.next_canary() is None:
            return f"{stage.title} has no canary step left" if stage.canary else f"{stage.title} has no canary steps"
        if action == "cancel_autokill" and (self.services.autokill is None or not state.autokill):
            return "no auto-kill countdown is running"
        return ""

    def on_key(self, event: events.Key) -> None:
        """A dimmed key pressed: say why it cannot be used now (Textual would ignore it silently)."""
        active = self.active_bindings.get(event.key)
        if active is None or active.enabled or active.node is not self:
            return
        action = active.binding.action
        why = self.why_not(action)
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



def watched_stage(rollout: Any) -> Stage:
    """The current stage, or the latest earlier one with thresholds (Stage 1 has none), or Stage 0."""
    plan = rollout.plan
    index = max(rollout.state.stage_index, 0)
    for stage in reversed(plan.stages[: index + 1]):
        if stage.thresholds:
            return stage  # type: ignore[no-any-return]
    return plan.stages[0]  # type: ignore[no-any-return]


def rollout_stage_title(services: Services) -> str:
    stage = services.rollout.current_stage
    return stage.title if stage else services.rollout.plan.stages[0].title


def limits(threshold: Threshold, baseline: float | None) -> list[float]:
    """The threshold as a line in the metric's unit (a relative one needs the baseline)."""
    if threshold.kind == "absolute" and isinstance(threshold.value, float):
        return [threshold.value]
    if threshold.kind == "relative" and baseline is not None and isinstance(threshold.value, float):
        return [baseline * (1 + threshold.value / 100)]
    return []
