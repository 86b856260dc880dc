"""A banner across the top for what must not be missed: breaches, kills, auto-kill countdowns, incidents."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from rich.text import Text
from textual.widgets import Static

from cockpit.gates import past_point_of_no_return
from cockpit.incident import incident_view
from cockpit.plan.load import unset_by_var
from cockpit.plan.model import format_duration
from cockpit.readings import TABLE, format_reading
from cockpit.session import Services
from cockpit.store.audit import TornTail, cut_short_message
from cockpit.text import visible
from widgets.gate import hhmm


class Banner(Static):
    """Lines of alert; hidden when there are none. ``-alert`` for red, ``-info`` for calmer news."""

    DEFAULT_CSS = """
    Banner {
        display: none;
        height: auto;
        padding: 0 1;
        background: $error;
        color: $text;
        text-style: bold;
    }
    Banner.-visible { display: block; }
    Banner.-info { background: $primary-darken-2; }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        """Initialise the banner.

        Args:
            name: The name of the widget.
            id: The ID of the widget in the DOM.
            classes: The CSS classes of the widget.
        """
        super().__init__(name=name, id=id, classes=classes)
        self.lines: tuple[str, ...] = ()

    def show(self, lines: Sequence[str], *, alert: bool = True) -> None:
        """Show ``lines`` (hide the banner when empty); redraw only when they changed."""
        lines = tuple(lines)
        self.set_class(bool(lines), "-visible")
        self.set_class(not alert, "-info")
        if lines != self.lines:
            self.lines = lines
            self.update(Text("\n".join(visible(line) for line in lines)))  # a monitored value: no raw controls


def banner_lines(services: Services, now: datetime) -> list[str]:
    """What must not be missed, a line each: the record in trouble (degraded, torn, cut short), breaches,
    auto-kill countdowns, the last kill, the open incident's next step, the point of no return."""
    state = services.rollout.state
    plan = services.rollout.plan
    lines = []
    store = services.rollout.store
    degraded = services.degraded()  # PostgreSQL unreachable: the mirror, the spool, this cockpit's polls
    if degraded is not None:
        lines.append(f"⚠ STORE DEGRADED: {degraded}")
    for var, uses in unset_by_var(services.rollout.loaded).items():  # a poll reads ERROR, a flag is not driven
        users = ", ".join(dict.fromkeys(u.part for u in uses))
        lines.append(f"⚠ {var} IS NOT SET: {users} cannot work here (set it and restart the cockpit)")
    if services.rollout.broken is not None:  # an edited or spliced record: nothing after the break is believed
        lines.append(f"✘ AUDIT LOG BROKEN: {services.rollout.broken_message()}")
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
    auto = services.autokill
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
