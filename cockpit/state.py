"""State is derived, not stored: everything here is rebuilt by replaying the audit log.

:class:`RolloutState` folds events one at a time (``apply``), so a cockpit that reads only the new
tail of the log stays current cheaply. Soak timers are anchored to the wall-clock times of their
events: a cockpit restarted in the middle of a 24 h soak resumes exactly where the soak was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cockpit import events as ev
from cockpit.events import GENESIS, Actor, Event


@dataclass(frozen=True)
class Mark:
    """Who did something and when."""

    actor: Actor
    at: datetime
    seq: int


@dataclass(frozen=True)
class Approval:
    role: str
    mark: Mark
    digest: str
    """Digest of the plan that was signed; a different plan voids the approval."""


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    value: Any
    detail: str
    mark: Mark


@dataclass(frozen=True)
class BaselineValue:
    value: float
    at: datetime
    window: str
    query: str


@dataclass
class Soak:
    """A wait/soak period after a canary step."""

    stage: str
    step: str
    duration: timedelta
    started: datetime
    on_breach: str = "restart"
    first_started: datetime | None = None
    breaks: list[datetime] = field(default_factory=list)
    failed: bool = False
    completed_at: datetime | None = None

    def elapsed(self, now: datetime) -> timedelta:
        end = self.completed_at or now
        return max(min(end - self.started, self.duration), timedelta(0))

    def remaining(self, now: datetime) -> timedelta:
        return self.duration - self.elapsed(now)

    def done(self, now: datetime) -> bool:
        return not self.failed and (self.completed_at is not None or now - self.started >= self.duration)


@dataclass(frozen=True)
class Breach:
    metric: str
    stage: str
    value: Any
    threshold: str
    opened: Mark


@dataclass(frozen=True)
class Override:
    stage: str
    reason: str
    blockers: tuple[str, ...]
    mark: Mark


@dataclass
class FlagState:
    enabled: bool
    percent: int
    mark: Mark


@dataclass
class Incident:
    id: int
    reason: str
    opened: Mark
    steps_done: dict[str, Mark] = field(default_factory=dict)
    closed: Mark | None = None


@dataclass
class RolloutState:
    """The rollout as of the last applied event."""

    approvals: dict[str, Approval] = field(default_factory=dict)
    stage_index: int = -1
    """-1 before Stage 0 is entered, then the index of the current stage in the plan."""
    entered: dict[str, Mark] = field(default_factory=dict)
    completed: dict[str, Mark] = field(default_factory=dict)
    ticks: dict[tuple[str, str], Mark] = field(default_factory=dict)
    checks: dict[tuple[str, str], CheckResult] = field(default_factory=dict)
    baseline: dict[str, BaselineValue] = field(default_factory=dict)
    baseline_mark: Mark | None = None
    canary: dict[tuple[str, str], Mark] = field(default_factory=dict)
    soaks: dict[tuple[str, str], Soak] = field(default_factory=dict)
    breaches: dict[str, Breach] = field(default_factory=dict)
    breach_log: list[tuple[Breach, Mark | None]] = field(default_factory=list)
    flags: dict[str, FlagState] = field(default_factory=dict)
    overrides: list[Override] = field(default_factory=list)
    notes: list[tuple[str, Mark]] = field(default_factory=list)
    kills: list[Event] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    autokill: dict[str, Mark] = field(default_factory=dict)
    """Running auto-kill countdowns by metric."""
    autokill_countdown: dict[str, float] = field(default_factory=dict)
    """Seconds each running countdown lasts (as recorded when it started)."""
    autokill_done: dict[str, int] = field(default_factory=dict)
    """By metric, the breach (its ``breach.opened`` seq) whose auto-kill was cancelled or fired: not re-armed."""
    signoffs: dict[str, Mark] = field(default_factory=dict)
    """Post-rollout sign-offs by approver role."""
    count: int = 0
    head: str = GENESIS
    last_time: datetime | None = None

    # ----------------------------------------------------------------- folding

    def apply(self, event: Event) -> None:
        handler = _HANDLERS.get(event.type)
        if handler is not None:
            handler(self, event, Mark(event.actor, event.time, event.seq))
        self.count = event.seq
        self.head = event.hash
        self.last_time = event.time

    def apply_all(self, events: Iterable[Event]) -> RolloutState:
        for event in events:
            self.apply(event)
        return self

    @property
    def open_incident(self) -> Incident | None:
        return next((i for i in reversed(self.incidents) if i.closed is None), None)


def replay(events: Iterable[Event]) -> RolloutState:
    return RolloutState().apply_all(events)


# --------------------------------------------------------------------------- handlers

Handler = Callable[[RolloutState, Event, Mark], None]
_HANDLERS: dict[str, Handler] = {}


def _on(type: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS[type] = fn
        return fn

    return register


@_on(ev.APPROVAL_SIGNED)
def _signed(s: RolloutState, e: Event, m: Mark) -> None:
    s.approvals[e.payload["role"]] = Approval(e.payload["role"], m, e.payload["digest"])


@_on(ev.APPROVAL_REVOKED)
def _revoked(s: RolloutState, e: Event, m: Mark) -> None:
    s.approvals.pop(e.payload["role"], None)


@_on(ev.ITEM_TICKED)
def _ticked(s: RolloutState, e: Event, m: Mark) -> None:
    s.ticks[(e.payload["stage"], e.payload["item"])] = m


@_on(ev.ITEM_UNTICKED)
def _unticked(s: RolloutState, e: Event, m: Mark) -> None:
    s.ticks.pop((e.payload["stage"], e.payload["item"]), None)


@_on(ev.NOTE_ADDED)
def _note(s: RolloutState, e: Event, m: Mark) -> None:
    s.notes.append((e.payload["text"], m))


@_on(ev.STAGE_ENTERED)
def _entered(s: RolloutState, e: Event, m: Mark) -> None:
    s.stage_index = int(e.payload["index"])
    s.entered[e.payload["stage"]] = m


@_on(ev.STAGE_COMPLETED)
def _completed(s: RolloutState, e: Event, m: Mark) -> None:
    s.completed[e.payload["stage"]] = m


@_on(ev.GATE_OVERRIDDEN)
def _overridden(s: RolloutState, e: Event, m: Mark) -> None:
    s.overrides.append(Override(e.payload["stage"], e.payload["reason"], tuple(e.payload.get("blockers", ())), m))


@_on(ev.BASELINE_CAPTURED)
def _baseline(s: RolloutState, e: Event, m: Mark) -> None:
    s.baseline = {
        name: BaselineValue(float(v["value"]), e.time, str(v.get("window", "")), str(v.get("query", "")))
        for name, v in e.payload["metrics"].items()
    }
    s.baseline_mark = m


@_on(ev.CHECK_RESULT)
def _check(s: RolloutState, e: Event, m: Mark) -> None:
    p = e.payload
    s.checks[(p["stage"], p["check"])] = CheckResult(bool(p["ok"]), p.get("value"), str(p.get("detail", "")), m)


@_on(ev.FLAG_CHANGED)
def _flag(s: RolloutState, e: Event, m: Mark) -> None:
    after = e.payload["after"]
    s.flags[e.payload["flag"]] = FlagState(bool(after.get("enabled")), int(after.get("percent", 0)), m)
    if e.payload.get("step"):
        s.canary[(e.payload["stage"], e.payload["step"])] = m


@_on(ev.SOAK_STARTED)
def _soak_started(s: RolloutState, e: Event, m: Mark) -> None:
    p = e.payload
    key = (p["stage"], p["step"])
    s.soaks[key] = Soak(
        p["stage"],
        p["step"],
        timedelta(seconds=float(p["seconds"])),
        e.time,
        p.get("on_breach", "restart"),
        e.time,
    )


@_on(ev.SOAK_BROKEN)
def _soak_broken(s: RolloutState, e: Event, m: Mark) -> None:
    soak = s.soaks.get((e.payload["stage"], e.payload["step"]))
    if soak is None:
        return
    soak.breaks.append(e.time)
    if soak.on_breach == "fail":
        soak.failed = True
    else:
        soak.started = e.time  # the timer starts again from the breach


@_on(ev.SOAK_COMPLETED)
def _soak_completed(s: RolloutState, e: Event, m: Mark) -> None:
    soak = s.soaks.get((e.payload["stage"], e.payload["step"]))
    if soak is not None and not soak.failed:
        soak.completed_at = e.time


@_on(ev.BREACH_OPENED)
def _breach_opened(s: RolloutState, e: Event, m: Mark) -> None:
    p = e.payload
    breach = Breach(p["metric"], p.get("stage", ""), p.get("value"), str(p.get("threshold", "")), m)
    s.breaches[p["metric"]] = breach
    s.breach_log.append((breach, None))


@_on(ev.BREACH_CLOSED)
def _breach_closed(s: RolloutState, e: Event, m: Mark) -> None:
    breach = s.breaches.pop(e.payload["metric"], None)
    if breach is None:
        return
    for i in range(len(s.breach_log) - 1, -1, -1):
        if s.breach_log[i][0] is breach:
            s.breach_log[i] = (breach, m)
            break


@_on(ev.KILL_REQUESTED)
def _kill(s: RolloutState, e: Event, m: Mark) -> None:
    s.kills.append(e)


@_on(ev.KILL_FLAG_RESULT)
def _kill_flag(s: RolloutState, e: Event, m: Mark) -> None:
    if e.payload.get("verified_off"):
        s.flags[e.payload["flag"]] = FlagState(False, 0, m)


@_on(ev.AUTOKILL_STARTED)
def _autokill_started(s: RolloutState, e: Event, m: Mark) -> None:
    s.autokill[e.payload["metric"]] = m
    if isinstance(e.payload.get("countdown"), int | float):
        s.autokill_countdown[e.payload["metric"]] = float(e.payload["countdown"])


@_on(ev.AUTOKILL_CANCELLED)
@_on(ev.AUTOKILL_FIRED)
def _autokill_stopped(s: RolloutState, e: Event, m: Mark) -> None:
    s.autokill.pop(e.payload.get("metric", ""), None)
    if e.payload.get("all"):
        s.autokill.clear()
    breaches = e.payload.get("breaches")
    if isinstance(breaches, dict):
        s.autokill_done.update({str(k): int(v) for k, v in breaches.items() if isinstance(v, int)})


@_on(ev.INCIDENT_OPENED)
def _incident(s: RolloutState, e: Event, m: Mark) -> None:
    s.incidents.append(Incident(len(s.incidents) + 1, e.payload.get("reason", ""), m))


@_on(ev.INCIDENT_STEP_DONE)
def _incident_step(s: RolloutState, e: Event, m: Mark) -> None:
    incident = s.open_incident
    if incident is not None:
        incident.steps_done[e.payload["action"]] = m


@_on(ev.INCIDENT_CLOSED)
def _incident_closed(s: RolloutState, e: Event, m: Mark) -> None:
    incident = s.open_incident
    if incident is not None:
        incident.closed = m


@_on(ev.SIGNOFF_SIGNED)
def _signoff(s: RolloutState, e: Event, m: Mark) -> None:
    s.signoffs[e.payload["role"]] = m
