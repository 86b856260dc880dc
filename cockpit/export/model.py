"""The sign-off record: the seed checklist, filled from the audit log and the metric history.

:func:`build_record` returns one plain dict (strings, numbers, booleans, lists, dicts; never None:
a missing value is ``""``) that the Markdown, TOML and JSON exports all render. It works at any
point of the rollout: what has not happened yet is there with ``done = false`` / ``status = "pending"``.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from cockpit import events as ev
from cockpit import payloads as pl
from cockpit.events import Event
from cockpit.export.metrics import threshold_row, when
from cockpit.gates import CheckVerdict, check_verdicts
from cockpit.incident import action_deadline, step_deadline
from cockpit.plan.model import Plan, Stage, format_duration
from cockpit.rollout import Rollout
from cockpit.signing.export import signature_rows
from cockpit.state import Mark, RolloutState
from cockpit.store.history import History

FORMAT_VERSION = 1
Record = dict[str, Any]


def mark(m: Mark | None) -> dict[str, Any]:
    """Who and when, flat: ``user``, ``host``, ``at``, ``seq`` (empty when not done)."""
    if m is None:
        return {"user": "", "host": "", "at": "", "seq": 0}
    return {"user": m.actor.user, "host": m.actor.host, "at": when(m.at), "seq": m.seq}


def build_record(rollout: Rollout, history: History | None = None) -> Record:
    """The whole export as a plain dict, secrets redacted."""
    state = rollout.state
    plan = rollout.plan
    now = rollout.now()
    events = rollout.store.read(0)[: state.count]
    record: Record = {
        "export": {
            "format": FORMAT_VERSION,
            "generated_at": when(now),
            "generated_by": str(rollout.actor),
            "rollout_id": plan.rollout.id,
            "plan_digest": plan.digest,
            "status": _status(plan, state),
            "current_stage": plan.stages[state.stage_index].id if state.stage_index >= 0 else "",
        },
        "title": "Rollout Checklist",
        "service": plan.rollout.service,
        "version": plan.rollout.version,
        "date": plan.rollout.date,
        "plan_versions": [
            {"digest": v.digest, "changes": list(v.changes), "current": v.digest == plan.digest, **mark(v.mark)}
            for v in state.plan_history
        ],
        "approvals": _approvals(plan, state),
        "baseline": _baseline(state),
        "stages": [_stage(plan, state, stage, events, history, now) for stage in plan.stages],
        "flags": _flags(plan, state),
        "breaches": _breaches(state),
        "overrides": [
            {"stage": o.stage, "reason": o.reason, "blockers": list(o.blockers), **mark(o.mark)}
            for o in state.overrides
        ],
        "kills": _kills(events),
        "incidents": _incidents(plan, state, now),
        "signoff": _signoff(plan, state),
        "contacts": [{"issue": c.issue, "contact": c.contact, "method": c.method} for c in plan.contacts],
        "notes": [{"text": text, **mark(m)} for text, m in state.notes],
        "audit": {"count": state.count, "head": state.head},
    }
    if signatures := signature_rows(rollout.signatures, events):  # only when the rollout signs its decisions
        record["signatures"] = signatures
    return clean(rollout.loaded.env.redact(record))


def clean(value: Any) -> Any:
    """Make ``value`` TOML- and JSON-safe: None to ``""``, tuples to lists, non-finite floats to text."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _status(plan: Plan, state: RolloutState) -> str:
    if state.stage_index < 0:
        return "not started"
    if plan.stages[-1].id in state.completed:
        return "complete"
    return "in progress"


def _approvals(plan: Plan, state: RolloutState) -> list[dict[str, Any]]:
    rows = []
    for a in plan.approvers:
        approval = state.approvals.get(a.role)
        rows.append(
            {
                "role": a.role,
                "title": a.title,
                "handle": a.handle,
                "signed": approval is not None,
                "digest": approval.digest if approval else "",
                "digest_current": bool(approval and approval.digest == plan.digest),
                **mark(approval.mark if approval else None),
            }
        )
    return rows


def _baseline(state: RolloutState) -> dict[str, Any]:
    return {
        "captured": state.baseline_mark is not None,
        "partial": bool(state.baseline_missing),
        "missing": list(state.baseline_missing),
        **mark(state.baseline_mark),
        "metrics": {name: {"value": b.value, "window": b.window} for name, b in sorted(state.baseline.items())},
    }


def _stage_status(state: RolloutState, stage: Stage) -> str:
    if stage.id in state.completed:
        return "completed"
    return "current" if stage.id in state.entered else "pending"


def soak_window(state: RolloutState, stage: Stage, now: datetime) -> tuple[datetime | None, datetime | None]:
    """The stage's soak window (first soak start to last soak end), else entered to completed; end is
    ``now`` while it runs. ``(None, None)`` before the stage is entered."""
    soaks = [state.soaks[(stage.id, s.id)] for s in stage.canary if (stage.id, s.id) in state.soaks]
    entered, completed = state.entered.get(stage.id), state.completed.get(stage.id)
    if soaks:
        start = min(s.first_started or s.started for s in soaks)
        ends = [s.completed_at for s in soaks]
        end = max(e for e in ends if e is not None) if all(ends) else now
        return start, end
    if entered is None:
        return None, None
    return entered.at, completed.at if completed else now


def _stage(
    plan: Plan, state: RolloutState, stage: Stage, events: list[Event], history: History | None, now: datetime
) -> dict[str, Any]:
    start, end = soak_window(state, stage, now)
    completed = state.completed.get(stage.id)
    return {
        "id": stage.id,
        "title": stage.title,
        "status": _stage_status(state, stage),
        "entered": mark(state.entered.get(stage.id)),
        "completed": mark(completed),
        "irreversible": stage.irreversible,
        "items": [
            {
                "id": i.id,
                "section": i.section,
                "text": i.text,
                "done": (stage.id, i.id) in state.ticks,
                **mark(state.ticks.get((stage.id, i.id))),
            }
            for i in stage.items
        ],
        "checks": [_check(v) for v in check_verdicts(state, stage)],
        "window": {"start": when(start), "end": when(end)},
        "thresholds": [
            threshold_row(plan, state, stage, rule, history, start, end, completed.at if completed else None)
            for rule in stage.thresholds
        ],
        "canary": _canary(state, stage, events, now),
        "backout": stage.backout,
        "contacts": [{"issue": c.issue, "contact": c.contact, "method": c.method} for c in stage.contacts],
    }


def _check(verdict: CheckVerdict) -> dict[str, Any]:
    """A verification row: ``status`` is ``passed``, ``FAILED`` or ``pending``; a failed one carries the
    override that moved on past it (reason, who, when) and is never ``done``."""
    result, override = verdict.result, verdict.override
    value = result.value if result else ""
    return {
        "id": verdict.check.id,
        "text": verdict.check.text,
        "expect": verdict.check.expect,
        "done": bool(result and result.ok),
        "ran": result is not None,
        "ok": bool(result and result.ok),
        "status": verdict.status,
        "value": value if isinstance(value, bool | int | float | str) else clean(value),
        "detail": result.detail if result else "",
        **mark(result.mark if result else None),
        "override": {"reason": override.reason, **mark(override.mark)} if override else {},
    }


def _canary(state: RolloutState, stage: Stage, events: list[Event], now: datetime) -> list[dict[str, Any]]:
    steps = []
    for step in stage.canary:
        key = (stage.id, step.id)
        changes = [(e, pl.decode(e, pl.FlagChanged)) for e in events if e.type == ev.FLAG_CHANGED]
        sets = [
            {
                "percent": p.percent,
                "user": e.actor.user,
                "host": e.actor.host,
                "at": when(e.time),
                "seq": e.seq,
                "reason": p.reason,
            }
            for e, p in changes
            if p.stage == stage.id and p.step == step.id
        ]
        soak = state.soaks.get(key)
        soak_row: dict[str, Any] = {
            "label": step.soak_label,
            "duration": format_duration(step.soak),
            "start": "",
            "end": "",
            "actual": "",
            "broken": False,
            "breaks": [],
            "status": "pending",
            "history": [],
        }
        if soak is not None:
            first = soak.first_started or soak.started
            end = soak.completed_at or soak.stopped_at
            soak_row.update(
                start=when(first),
                end=when(end),
                actual=format_duration((end or now) - first),
                broken=bool(soak.breaks),
                breaks=[when(b) for b in soak.breaks],
                status=soak.state,
                history=[{"kind": h.kind, "at": when(h.at), "detail": h.detail} for h in soak.history],
            )
        steps.append(
            {
                "id": step.id,
                "flag": step.flag,
                "percent": step.percent,
                "done": key in state.canary,
                "set": sets,
                "soak": soak_row,
            }
        )
    return steps


def _flags(plan: Plan, state: RolloutState) -> list[dict[str, Any]]:
    rows = []
    for flag in plan.flags:
        st = state.flags.get(flag.name)
        rows.append(
            {
                "name": flag.name,
                "known": st is not None,
                "state": ("on" if st.enabled else "off") if st else "off (unchanged since the rollout began)",
                "enabled": bool(st and st.enabled),
                "percent": st.percent if st else 0,
                "backout": flag.backout,
                **mark(st.mark if st else None),
            }
        )
    return rows


def _breaches(state: RolloutState) -> list[dict[str, Any]]:
    return [
        {
            "metric": b.metric,
            "stage": b.stage,
            "value": clean(b.value),
            "threshold": b.threshold,
            "opened": when(b.opened.at),
            "closed": when(closed.at) if closed else "",
            "open": closed is None,
        }
        for b, closed in state.breach_log
    ]


def _kills(events: list[Event]) -> list[dict[str, Any]]:
    """Each kill with its timeline: the request, each flag's result, the overall result."""
    kills: list[dict[str, Any]] = []
    for e in events:
        if e.type == ev.KILL_REQUESTED:
            kills.append({"reason": pl.decode(e, pl.KillRequested).reason, "timeline": []})
        if e.type in (ev.KILL_REQUESTED, ev.KILL_FLAG_RESULT, ev.KILL_RESULT) and kills:
            detail = ", ".join(
                f"{k}={v if isinstance(v, str) else json.dumps(clean(v), ensure_ascii=False)}"
                for k, v in sorted(e.payload.items())
            )
            kills[-1]["timeline"].append(
                {
                    "type": e.type,
                    "detail": detail,
                    "user": e.actor.user,
                    "host": e.actor.host,
                    "at": when(e.time),
                    "seq": e.seq,
                }
            )
    return kills


def _incidents(plan: Plan, state: RolloutState, now: datetime) -> list[dict[str, Any]]:
    """Each incident's steps with the verdict of :func:`cockpit.incident.step_deadline` as of ``now``."""
    rows = []
    for inc in state.incidents:
        steps = []
        for step in plan.incident:
            verdict = step_deadline(step, inc, now)
            actions = []
            for action in step.actions:
                done = inc.steps_done.get(action) or inc.steps_done.get(step.id)
                av = action_deadline(step, action, inc, now)
                actions.append(
                    {
                        "action": action,
                        "done": done is not None,
                        "verdict": av.verdict,
                        "met": av.verdict == "on time",
                        "by_kill": action in inc.by_kill,
                        **mark(done),
                    }
                )
            steps.append(
                {
                    "id": step.id,
                    "label": step.label,
                    "deadline": format_duration(step.deadline),
                    "due": when(verdict.due),
                    "verdict": verdict.verdict,
                    "met": verdict.verdict == "on time",
                    "actions": actions,
                }
            )
        rows.append(
            {"id": inc.id, "reason": inc.reason, "opened": mark(inc.opened), "closed": mark(inc.closed), "steps": steps}
        )
    return rows


def _signoff(plan: Plan, state: RolloutState) -> list[dict[str, Any]]:
    return [
        {"role": a.role, "title": a.title, "signed": a.role in state.signoffs, **mark(state.signoffs.get(a.role))}
        for a in plan.approvers
    ]
