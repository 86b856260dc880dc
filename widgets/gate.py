"""The gate of the current stage: approvals (who, when), checklist progress, soak timer, point of no return."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.text import Text
from textual.widgets import Static

from cockpit.gates import check_verdicts, past_point_of_no_return
from cockpit.plan.model import Plan, format_duration
from cockpit.signing.check import printable
from cockpit.state import RolloutState


def hhmm(at: datetime) -> str:
    """``12-12 09:00Z``: short enough for a narrow terminal, unambiguous about the zone."""
    return at.strftime("%m-%d %H:%MZ")


class Gate(Static):
    """What the gate of the current stage is waiting for."""

    DEFAULT_CSS = """
    Gate {
        height: auto;
        padding: 0 1;
    }
    """

    COMPONENT_CLASSES = {"gate--ok", "gate--missing", "gate--warning"}

    DEFAULT_CSS += """
    Gate > .gate--ok { color: $success; }
    Gate > .gate--missing { color: $warning; }
    Gate > .gate--warning { color: $error; text-style: bold; }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        """Initialise the gate.

        Args:
            name: The name of the widget.
            id: The ID of the widget in the DOM.
            classes: The CSS classes of the widget.
        """
        super().__init__(name=name, id=id, classes=classes)
        self._plain = ""

    def show(self, plan: Plan, state: RolloutState, blockers: Sequence[Any], now: datetime, next_action: str) -> None:
        """Render the gate as of ``now``."""
        ok = self.get_component_rich_style("gate--ok")
        missing = self.get_component_rich_style("gate--missing")
        warning = self.get_component_rich_style("gate--warning")
        text = Text()
        if blockers:
            text.append(f"GATE CLOSED ({len(blockers)}) → {next_action}\n", missing)
        else:
            text.append(f"GATE OPEN → {next_action}\n", ok)
        not_counted = {b.ref for b in blockers if b.kind == "approval" and "not counted" in b.message}
        signed = [state.approvals.get(a.role) for a in plan.approvers]
        plain = all(a is not None and a.digest == plan.digest and (a.event is None or a.event.sig is None) for a in signed)
        if plan.approvers and plain and not not_counted:
            # all signed, valid, none by an SSH key: one line (who signed when is in the record, l and the export)
            who = ", ".join(a.mark.actor.user for a in signed if a is not None)
            text.append(f"✔ approvals {len(signed)}/{len(signed)} signed ({who})\n", ok)
        else:
            for approver in plan.approvers:
                approval = state.approvals.get(approver.role)
                if approval is None:
                    text.append(f"☐ {approver.title} ({approver.handle})\n", missing)
                elif approval.digest != plan.digest:  # the blocker names what changed since the approvals
                    why = next(
                        (b.message.rsplit(": ", 1)[-1] for b in blockers if b.kind == "approval" and b.ref == approver.role),
                        "the plan changed since the approvals",
                    )
                    text.append(f"✘ {approver.title}: void, {why}\n", warning)
                else:
                    who = approval.mark.actor.user
                    sig = approval.event.sig if approval.event is not None else None
                    signed_by = f" · signed {printable(sig.principal, 40)}" if sig is not None else ""  # one-cell glyphs
                    if approver.role in not_counted:  # the plan requires signatures: the gate's blocker says why
                        text.append(f"✘ {approver.title}: {who}{signed_by}, not counted\n", warning)
                    else:
                        text.append(f"✔ {approver.title}: {who} {hhmm(approval.mark.at)}{signed_by}\n", ok)
        stage = plan.stages[state.stage_index] if state.stage_index >= 0 else None
        if stage is not None:
            if stage.items:
                ticked = sum((stage.id, i.id) in state.ticks for i in stage.items)
                st = ok if ticked == len(stage.items) else missing
                text.append(f"{'✔' if st is ok else '☐'} checklist {ticked}/{len(stage.items)} ticked\n", st)
            if stage.checks:
                verdicts = check_verdicts(state, stage)
                passed = sum(v.status == "passed" for v in verdicts)
                st = ok if passed == len(stage.checks) else missing
                text.append(f"{'✔' if st is ok else '☐'} checks {passed}/{len(stage.checks)} passed\n", st)
                for verdict in verdicts:
                    if verdict.status == "FAILED":  # a failed check is never shown as passed or ticked
                        text.append(verdict.describe() + "\n", warning)
            if stage.captures_baseline:
                if state.baseline_mark is not None:
                    text.append(f"✔ baseline captured {hhmm(state.baseline_mark.at)}\n", ok)
                else:
                    text.append("☐ baseline not captured\n", missing)
            for step in stage.canary:
                soak = state.soaks.get((stage.id, step.id))
                if (stage.id, step.id) not in state.canary:
                    text.append(f"☐ {step.percent}% not taken\n", missing)
                elif soak is None:
                    text.append(f"✔ {step.percent}% taken\n", ok)
                else:
                    breaks = len(soak.breaks)
                    extra = f", {breaks} breach{'es' if breaks != 1 else ''} during soak" if breaks else ""
                    if soak.failed:
                        text.append(f"✘ soak {step.percent}% FAILED{extra}\n", warning)
                    elif soak.stopped_at is not None:
                        text.append(f"✘ soak {step.percent}% stopped by kill at {hhmm(soak.stopped_at)}\n", warning)
                    elif soak.waiting_on:
                        metrics = ", ".join(sorted(soak.waiting_on))
                        text.append(f"✘ soak {step.percent}% broken by {metrics}: restarts when OK\n", warning)
                    else:
                        st = ok if soak.done(now) else missing
                        clock = f"{format_duration(soak.elapsed(now))} / {format_duration(soak.duration)}"
                        text.append(f"{'✔' if soak.done(now) else '◷'} soak {step.percent}% {clock}{extra}\n", st)
        pnr = past_point_of_no_return(plan, state)
        if pnr is not None:
            text.append(f"⚑ PAST POINT OF NO RETURN ({pnr.title}): flags off is not a full backout\n", warning)
        text.rstrip()
        if text.plain != self._plain:
            self._plain = text.plain
            self.update(text)
