"""A plain summary of where the rollout stands, for ``cockpit status`` and the dashboard."""

from __future__ import annotations

from typing import Any

from cockpit.events import format_time
from cockpit.gates import backout_warning, check_verdicts, next_action
from cockpit.plan.model import format_duration
from cockpit.rollout import Rollout
from cockpit.state import Soak


def soak_history(soak: Soak) -> list[dict[str, str]]:
    """The soak's moments in order: ``{"kind", "at", "detail"}`` (started, broken, restarted, stopped, ...)."""
    return [{"kind": m.kind, "at": format_time(m.at)[:19] + "Z", "detail": m.detail} for m in soak.history]


def describe_soak_moment(moment: dict[str, str]) -> str:
    """``broken at 2024-12-12T15:40:00Z by dlq_entries = 14.0``: one moment in the operator's words."""
    at, detail = moment["at"], moment["detail"]
    if moment["kind"] == "broken":
        return f"broken at {at} by {detail}"
    if moment["kind"] == "stopped":
        return f"stopped {detail or 'by kill'} at {at}"
    if moment["kind"] == "restarted":
        return f"restarted at {at}" + (f" ({detail})" if detail else "")
    return f"{moment['kind']} at {at}" + (f" ({detail})" if detail else "")


def status_dict(rollout: Rollout) -> dict[str, Any]:
    plan, state, now = rollout.plan, rollout.state, rollout.now()
    stage = rollout.current_stage
    blockers = rollout.blockers()
    digest = plan.digest
    approvals = []
    for approver in plan.approvers:
        a = state.approvals.get(approver.role)
        approvals.append(
            {
                "role": approver.role,
                "title": approver.title,
                "handle": approver.handle,
                "signed_by": str(a.mark.actor) if a else None,
                "signed_at": format_time(a.mark.at) if a else None,
                "valid": bool(a and a.digest == digest),
            }
        )
    soaks = [
        {
            "stage": soak.stage,
            "step": soak.step,
            "elapsed": format_duration(soak.elapsed(now)),
            "duration": format_duration(soak.duration),
            "remaining": format_duration(soak.remaining(now)),
            "elapsed_seconds": soak.elapsed(now).total_seconds(),
            "duration_seconds": soak.duration.total_seconds(),
            "done": soak.done(now),
            "failed": soak.failed,
            "state": soak.state,
            "breaks": len(soak.breaks),
            "history": soak_history(soak),
        }
        for soak in state.soaks.values()
    ]
    checks = [
        {
            "stage": stage_.id,
            "id": v.check.id,
            "text": v.check.text,
            "status": v.status,
            "detail": v.result.detail if v.result else "",
            "overridden_by": str(v.override.mark.actor) if v.override else None,
            "override_reason": v.override.reason if v.override else None,
            "line": v.describe(),
        }
        for stage_ in plan.stages
        if stage_.id in state.entered
        for v in check_verdicts(state, stage_)
        if stage_ is stage or v.status == "FAILED"
    ]
    return {
        "rollout": plan.rollout.id,
        "plan_digest": digest,
        "stage": {
            "index": state.stage_index,
            "id": stage.id if stage else None,
            "title": stage.title if stage else "Pre-rollout approvals",
            "completed": bool(stage and stage.id in state.completed),
        },
        "approvals": approvals,
        "gate": {
            "open": not blockers,
            "next": next_action(plan, state),
            "blockers": [b.message for b in blockers],
            "blocker_kinds": [b.kind for b in blockers],
        },
        "soaks": soaks,
        "checks": checks,
        "baseline": {
            "captured": state.baseline_mark is not None,
            "metrics": sorted(state.baseline),
            "partial": bool(state.baseline_missing),
            "missing": list(state.baseline_missing),
        },
        "breaches": [
            {
                "metric": b.metric,
                "value": b.value,
                "threshold": b.threshold,
                "since": format_time(b.opened.at),
            }
            for b in state.breaches.values()
        ],
        "flags": {name: {"enabled": f.enabled, "percent": f.percent} for name, f in state.flags.items()},
        "overrides": [{"stage": o.stage, "reason": o.reason, "by": str(o.mark.actor)} for o in state.overrides],
        "warning": backout_warning(rollout.plan, rollout.state),
        "audit": {"events": state.count, "head": state.head, "torn": rollout.torn, "broken": rollout.broken_message()},
        "store": {
            "kind": rollout.plan.rollout.store,
            "degraded": rollout.store.degraded,
            "spooled": rollout.store.spooled,
        },
    }
