"""Incidents: a kill or a breach opens one; the plan's incident-response steps become checkable items.

Each step ("Within 5 minutes": page on-call, capture logs and metrics, create the ticket) has a
deadline counted from the moment the incident opened. :func:`capture` writes a snapshot of current
metrics, recent samples and recent events to a file, and audits where it went.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from cockpit import events as ev
from cockpit.events import Event, format_time
from cockpit.plan.model import IncidentStep, Plan
from cockpit.rollout import Rollout, RolloutError
from cockpit.state import Incident, Mark, RolloutState
from cockpit.store.files import write_atomic
from cockpit.store.history import History, Sample
from cockpit.store.paths import state_dir

RECENT_EVENTS = 200
RECENT_SAMPLES = timedelta(hours=1)
RECENT_SAMPLE_COUNT = 120


def open_incident(rollout: Rollout, reason: str) -> Event:
    """Open an incident unless one is open; either way return the event that opened it."""
    current = rollout.state.open_incident
    if current is not None:
        found = rollout.store.read(current.opened.seq - 1)
        if found and found[0].type == ev.INCIDENT_OPENED:
            return found[0]
    return rollout.record(ev.INCIDENT_OPENED, {"reason": reason.strip() or "incident"})


class BreachIncidents:
    """A rollout listener that opens an incident when a breach opens:
    ``rollout.listeners.append(BreachIncidents(rollout))``."""

    def __init__(self, rollout: Rollout) -> None:
        self.rollout = rollout

    def __call__(self, event: Event) -> None:
        if event.type == ev.BREACH_OPENED and self.rollout.state.open_incident is None:
            p = event.payload
            open_incident(self.rollout, f"breach: {p.get('metric')} = {p.get('value')} ({p.get('threshold')})")


def close_incident(rollout: Rollout, note: str = "") -> Event:
    if rollout.state.open_incident is None:
        raise RolloutError("no incident is open")
    return rollout.record(ev.INCIDENT_CLOSED, {"note": note.strip()})


def all_actions(plan: Plan) -> list[str]:
    return [action for step in plan.incident for action in step.actions]


def match_action(plan: Plan, text: str) -> str:
    """The plan's action named by ``text``: exact, case-insensitive, or a unique prefix."""
    actions = all_actions(plan)
    wanted = text.strip().lower()
    exact = [a for a in actions if a.lower() == wanted]
    found = exact or [a for a in actions if a.lower().startswith(wanted)] if wanted else []
    if len(found) == 1:
        return found[0]
    listing = "; ".join(actions) or "none"
    if not found:
        raise RolloutError(f"no incident action {text!r}; actions are: {listing}")
    raise RolloutError(f"{text!r} matches several actions: {'; '.join(found)}")


def mark_done(rollout: Rollout, action: str) -> Event:
    """Tick one action of the open incident (audited)."""
    incident = rollout.state.open_incident
    if incident is None:
        raise RolloutError("no incident is open")
    name = match_action(rollout.plan, action)
    if name in incident.steps_done:
        raise RolloutError(f"already done: {name}")
    return rollout.record(ev.INCIDENT_STEP_DONE, {"action": name, "incident": incident.id})


def complete_by_kill(rollout: Rollout) -> list[Event]:
    """After a kill verified every flag off: tick the open incident's ``done_by_kill`` actions."""
    incident = rollout.state.open_incident
    if incident is None:
        return []
    return [
        rollout.record(ev.INCIDENT_STEP_DONE, {"action": action, "incident": incident.id, "by": "kill"})
        for step in rollout.plan.incident
        if step.done_by_kill
        for action in step.actions
        if action not in incident.steps_done
    ]


Verdict = Literal["on time", "late", "pending", "missed"]


@dataclass(frozen=True)
class Deadline:
    """Where a step (or one action of it) stands against its deadline, as of some moment.

    * ``on time``: done by the deadline (a ``done_by_kill`` action done by the kill is on time);
    * ``late``: done, after the deadline;
    * ``pending``: not done, and the deadline has not passed (``due`` says by when);
    * ``missed``: not done, and the deadline has passed.
    """

    verdict: Verdict
    due: datetime
    done_at: datetime | None = None

    def describe(self) -> str:
        """``done on time``, ``done late (due 03:23Z)``, ``pending (due by 03:23Z)``, ``missed (due 03:23Z)``."""
        due = f"{self.due:%Y-%m-%d %H:%M:%S}Z"
        if self.verdict == "on time":
            return "done on time"
        if self.verdict == "late":
            return f"done late (due {due})"
        if self.verdict == "pending":
            return f"pending (due by {due})"
        return f"missed (due {due})"


def action_deadline(step: IncidentStep, action: str, incident: Incident, at: datetime) -> Deadline:
    """The one rule for an action of an incident step, as of ``at`` (now, or the export's time)."""
    due = incident.opened.at + step.deadline
    done = incident.steps_done.get(action) or incident.steps_done.get(step.id)
    if done is not None:
        by_kill = step.done_by_kill and action in incident.by_kill
        return Deadline("on time" if by_kill or done.at <= due else "late", due, done.at)
    return Deadline("pending" if at <= due else "missed", due)


def step_deadline(step: IncidentStep, incident: Incident, at: datetime) -> Deadline:
    """The one rule for a whole step: done on time when every action is; missed when any is."""
    due = incident.opened.at + step.deadline
    actions = [action_deadline(step, a, incident, at) for a in step.actions]
    verdicts = {a.verdict for a in actions}
    for verdict in ("missed", "pending"):
        if verdict in verdicts:
            return Deadline(verdict, due)  # type: ignore[arg-type]
    done_at = max((a.done_at for a in actions if a.done_at is not None), default=None)
    return Deadline("late" if "late" in verdicts else "on time", due, done_at)


@dataclass(frozen=True)
class StepView:
    step_id: str
    label: str
    deadline: datetime
    actions: tuple[tuple[str, Mark | None], ...]
    verdict: Deadline
    action_verdicts: tuple[Deadline, ...] = ()

    @property
    def done(self) -> bool:
        return all(mark is not None for _, mark in self.actions)

    @property
    def overdue(self) -> bool:
        """Not done and past its deadline (``missed``)."""
        return self.verdict.verdict == "missed"


def incident_view(plan: Plan, state: RolloutState, now: datetime, incident: Incident | None = None) -> list[StepView]:
    """The steps of ``incident`` (default: the open one) with their deadlines; empty when there is none."""
    incident = incident or state.open_incident
    if incident is None:
        return []
    views = []
    for step in plan.incident:
        deadline = incident.opened.at + step.deadline
        actions = tuple((a, incident.steps_done.get(a)) for a in step.actions)
        views.append(
            StepView(
                step.id,
                step.label,
                deadline,
                actions,
                step_deadline(step, incident, now),
                tuple(action_deadline(step, a, incident, now) for a in step.actions),
            )
        )
    return views


def capture(rollout: Rollout, history: History | None, path: Path | None = None, *, force: bool = False) -> Path:
    """Write current metrics, recent samples and recent events to a JSON file; audit ``capture.written``.

    A ``path`` given is written atomically and replaced only with ``force``."""
    now = rollout.now()
    if path is None:
        force = True  # the cockpit's own name for it, in its own directory
        stamp = now.strftime("%Y%m%dT%H%M%SZ")
        path = state_dir(rollout.loaded) / "captures" / f"capture-{stamp}.json"
    state = rollout.state
    events = rollout.store.read(max(state.count - RECENT_EVENTS, 0))
    snapshot = {
        "rollout": rollout.plan.rollout.id,
        "captured_at": format_time(now),
        "by": str(rollout.actor),
        "stage": rollout.current_stage.id if rollout.current_stage else None,
        "open_breaches": {
            m: {"value": b.value, "threshold": b.threshold, "since": format_time(b.opened.at)}
            for m, b in state.breaches.items()
        },
        "flags": {n: {"enabled": f.enabled, "percent": f.percent} for n, f in state.flags.items()},
        "metrics": _from_history(rollout, history, now),
        "events": [e.as_dict() for e in events],
    }
    text = json.dumps(rollout.loaded.env.redact(snapshot), indent=2, sort_keys=True, default=str)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, (text + "\n").encode(), overwrite=force)
    rollout.record(ev.CAPTURE_WRITTEN, {"path": str(path), "events": len(events)})
    return path


def _from_history(rollout: Rollout, history: History | None, now: datetime) -> Any:
    """Per metric: the latest sample and the last hour's samples."""
    if history is None:
        return None
    result: dict[str, Any] = {}
    for metric in rollout.plan.metrics:
        entry: dict[str, Any] = {}
        try:
            entry["latest"] = _sample(history.latest(metric))
            recent = history.samples(metric, now - RECENT_SAMPLES)
            entry["recent"] = [_sample(s) for s in recent[-RECENT_SAMPLE_COUNT:]]
        except Exception as exc:  # a broken history must not stop the capture
            entry["error"] = f"{type(exc).__name__}: {exc}"
        result[metric] = entry
    return result


def _sample(sample: Sample | None) -> Any:
    if sample is None:
        return None
    return {"at": format_time(sample.at), "value": sample.value, "error": sample.error}
