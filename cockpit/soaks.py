"""The soak clock: a canary step starts its soak, a breach breaks the soaks running, the breach's recovery
restarts those that restart on recovery, and a soak whose time has run out completes. Each is a decision of
the cockpit, so each is an event; the state (:mod:`cockpit.state`) times them from the events' times.

The :class:`~cockpit.rollout.Rollout` calls these (``open_breach``, ``close_breach``, ``complete_soaks``,
and ``record_flag_change`` for a canary step); they need only what :class:`Recorder` says of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from cockpit import events as ev
from cockpit.events import Event
from cockpit.plan.model import Stage
from cockpit.state import RolloutState


class Recorder(Protocol):
    """What the soak clock needs of the rollout: its state, its clock, and the one way to record."""

    @property
    def state(self) -> RolloutState: ...

    def now(self) -> datetime: ...

    def record(self, type: str, payload: dict[str, Any] | None = None) -> Event: ...


def start(r: Recorder, stage: Stage, step: str) -> Event | None:
    """The soak of ``stage``'s canary step ``step``, started now (None: the step has no soak)."""
    canary = next(s for s in stage.canary if s.id == step)
    if not canary.soak:
        return None
    return r.record(
        ev.SOAK_STARTED,
        {
            "stage": stage.id,
            "step": step,
            "seconds": canary.soak.total_seconds(),
            "on_breach": canary.on_breach,
            "label": canary.soak_label,
            "flag": canary.flag,
        },
    )


def open_breach(r: Recorder, metric: str, value: Any, threshold: str, *, stage: str = "") -> Event | None:
    """Open a breach (once) and break the soaks running (or already broken) in the rollout."""
    if metric in r.state.breaches:
        return None
    event = r.record(ev.BREACH_OPENED, {"metric": metric, "value": value, "threshold": threshold, "stage": stage})
    for (stage_id, step_id), soak in list(r.state.soaks.items()):
        if soak.running or soak.waiting_on:
            r.record(
                ev.SOAK_BROKEN,
                {"stage": stage_id, "step": step_id, "metric": metric, "value": value, "action": soak.on_breach},
            )
    return event


def close_breach(r: Recorder, metric: str, value: Any) -> Event | None:
    """Close a breach; a soak it broke (``on_breach = "restart"``) restarts now, once no breach that broke it
    is still open."""
    if metric not in r.state.breaches:
        return None
    event = r.record(ev.BREACH_CLOSED, {"metric": metric, "value": value})
    state = r.state
    for (stage_id, step_id), soak in list(state.soaks.items()):
        if soak.waiting_on and not soak.waiting_on & set(state.breaches):
            r.record(ev.SOAK_RESTARTED, {"stage": stage_id, "step": step_id, "reason": f"{metric} = {value}, OK again"})
    return event


def complete(r: Recorder) -> list[Event]:
    """Record the soaks whose time has run out (a decision of the cockpit, so it is audited)."""
    now = r.now()
    return [
        r.record(ev.SOAK_COMPLETED, {"stage": stage_id, "step": step_id, "seconds": soak.duration.total_seconds()})
        for (stage_id, step_id), soak in list(r.state.soaks.items())
        if soak.completed_at is None and soak.done(now)
    ]
