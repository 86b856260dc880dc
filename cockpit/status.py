"""A plain summary of where the rollout stands, for ``cockpit status`` and the dashboard."""

from __future__ import annotations

from typing import Any

from cockpit.events import format_time
from cockpit.gates import next_action
from cockpit.plan.model import format_duration
from cockpit.rollout import Rollout


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
            "breaks": len(soak.breaks),
        }
        for soak in state.soaks.values()
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
        "warning": rollout.backout_warning(),
        "audit": {"events": state.count, "head": state.head, "torn": rollout.torn},
        "store": {
            "kind": rollout.plan.rollout.store,
            "degraded": rollout.store.degraded,
            "spooled": rollout.store.spooled,
        },
    }
