"""The demo's next-step hint: from the rollout's state (and the gate's live blockers), the next key for a
newcomer, and the fault ``f`` injects in the current stage."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from cockpit.plan.model import format_duration
from cockpit.rollout import Rollout

FAULTS = {"dlq_entries": "dlq-flood", "heartbeat_misses": "heartbeat-misses"}
"""The simulator's scenario that breaches each metric a stage may judge."""


class DemoProgress(Protocol):
    """How far the demo's guided walk went, as the hint reads it (:class:`cockpit.demo.run.Demo` has it)."""

    @property
    def kept(self) -> Sequence[Path]:
        """The files kept after the demo exits (the exported sign-off): the walk is done."""
        ...

    @property
    def flooded(self) -> bool:
        """The fault was injected (``f``)."""
        ...


def stage_fault(rollout: Rollout) -> tuple[str, str, str] | None:
    """(scenario, metric label, threshold) of the fault ``f`` injects in the current stage, or None."""
    stage = rollout.current_stage
    for rule in stage.thresholds if stage is not None else ():
        if rule.metric in FAULTS:
            return FAULTS[rule.metric], rule.label, str(rule.threshold)
    return None


def next_hint(rollout: Rollout, demo: DemoProgress | None = None, blockers: list[Any] | None = None) -> str:
    """approvals → baseline → migrations → DLQ 5 % → a breach → kill → recovery → export."""
    if rollout.store.readonly:  # --readonly offers no key that writes: none to suggest
        return "read-only: watching. Another cockpit drives the rollout; l shows the audit log, q quits."
    state = rollout.state
    stage = rollout.current_stage
    blockers = rollout.blockers() if blockers is None else blockers
    kinds = {b.kind for b in blockers}
    if demo is not None and demo.kept:  # (not the log read again: this runs on every redraw)
        where = demo.kept[-1]
        return f"Done: the sign-off is written to {where} (kept after q). l shows the audit log; q quits."
    if state.kills:
        if state.breaches:
            return "Killed. Recovery: the flag is off; the breach closes on the next good poll. Wait…"
        kill = state.kills[-1].time
        had_breach = any(closed is not None and closed.at >= kill for _, closed in state.breach_log)
        done = "the flags are off and the breach is closed" if had_breach else "every flag is off"
        return f"Killed: {done}. i shows the incident's steps; e exports the sign-off (Markdown)."
    fault = stage_fault(rollout)
    flooded = demo is not None and demo.flooded
    if flooded and fault is not None and not state.breaches:
        return f"The fault is in: watch {fault[1]} climb past {fault[2]} (a few seconds)…"
    if state.breaches:
        pace = " (time runs at x1 now: the incident's deadlines are real)" if flooded else ""
        return f"BREACH! Press K (shift+k): kills every flag at once, no dialog, then verifies each is off.{pace}"
    if stage is None:
        if "approval" in kinds:
            return "Press a to sign an approval (all three roles), then g to enter Stage 0."
        return "All three signed. Press g to enter Stage 0."
    pending_items = [i for i in stage.items if (stage.id, i.id) not in state.ticks]
    if stage.captures_baseline and not state.baseline:
        return "Let a few samples arrive, then press b to capture the baseline."
    now = rollout.now()
    soaking = [k for k in state.soaks.values() if k.stage == stage.id and not k.done(now) and not k.failed]
    step = next((c for c in stage.canary if (stage.id, c.id) not in state.canary), None)
    if soaking:
        soak = soaking[0]
        clock = f"{format_duration(soak.elapsed(now))} of {format_duration(soak.duration)}"
        if fault is not None and demo is not None and not flooded:
            return f"The soak runs (accelerated: {clock}). Press f to inject a fault ({fault[0]}) and watch the breach."
        return f"The soak runs (accelerated: {clock}); the next step waits for it."
    if step is not None:
        return f"Press c and type {step.flag} to take the {step.percent}% canary step."
    if pending_items:
        return f"Press t to tick the checklist ({len(pending_items)} left in {stage.title})."
    if "check" in kinds:
        return "Press v to run the verification checks."
    if kinds == {"metric"}:
        first = next(b for b in blockers if b.kind == "metric")
        return f"Waiting for the metrics ({first.message}); if a source is missing here, press o to override."
    if blockers:
        return "The gate is still closed (see why on the left); press o to override with a reason."
    return "Gate open: press g to advance."
