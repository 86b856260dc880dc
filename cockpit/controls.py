"""When each of the dashboard's actions can be used, and why not: the registry's (:mod:`cockpit.plan.keys`)
availability half, by the same ids, answered from the record and the session.

An action is **offered** or not at all (a write under ``--readonly``, the demo's fault outside the demo,
the kill switch of a plan without one); an offered action is **usable** now unless :func:`why_not` gives
the reason, which the dashboard shows when its dimmed key is pressed.
"""

from __future__ import annotations

from cockpit.plan.keys import WRITES
from cockpit.plan.model import CanaryStep, Stage
from cockpit.rollout import Rollout
from cockpit.session import Services


def offered(action: str, services: Services, *, readonly: bool, demo: bool) -> bool:
    """Whether ``action`` is offered here at all (not: whether it can be used now)."""
    if action in WRITES and readonly:
        return False
    if action == "demo_flood" and not demo:
        return False
    return not (action in ("kill", "canary") and not services.offers_kill)


def why_not(action: str, services: Services) -> str:
    """Why ``action`` cannot be used now ("" when it can)."""
    r = services.rollout
    if action in WRITES and action != "kill" and (trouble := r.record_trouble()):  # the kill drives flags anyway
        return f"nothing can be recorded: {trouble}"
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
        if services.monitor is None:
            return "no metrics are polled here: nothing to capture"
        if stage is None:
            return f"the baseline is captured in {target.title}: sign the approvals (a) and enter it (g) first"
        if not stage.captures_baseline:
            return f"{stage.title} captures no baseline (it was captured in the stage that does)"
    if action == "verify" and stage is not None and not stage.checks:
        return f"{stage.title} has no verification checks"
    if action == "canary" and stage is not None and next_canary(r) is None:
        return f"{stage.title} has no canary step left" if stage.canary else f"{stage.title} has no canary steps"
    if action == "cancel_autokill" and (services.autokill is None or not state.autokill):
        return "no auto-kill countdown is running"
    return ""


def next_canary(rollout: Rollout) -> tuple[Stage, CanaryStep] | None:
    """The current stage's first canary step not yet taken, with its stage."""
    stage = rollout.current_stage
    if stage is None:
        return None
    taken = rollout.state.canary
    return next(((stage, s) for s in stage.canary if (stage.id, s.id) not in taken), None)
