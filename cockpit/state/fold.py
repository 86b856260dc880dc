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

from cockpit import payloads as pl
from cockpit.events import GENESIS, Event
from cockpit.state.parts import (
    Approval,
    BaselineValue,
    Breach,
    CheckResult,
    FlagState,
    Incident,
    Mark,
    Override,
    PlanVersion,
    Soak,
    SoakMoment,
)


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
    baseline_missing: tuple[str, ...] = ()
    """A partial baseline (``cockpit baseline --partial``): the metrics it has no value for."""
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
    signoff_by: dict[str, str] = field(default_factory=dict)
    """Post-rollout sign-offs: the user who signed each role."""
    plans: dict[str, PlanVersion] = field(default_factory=dict)
    """Every plan version the log has seen, by digest (``plan.changed``)."""
    plan_history: list[PlanVersion] = field(default_factory=list)
    """Each ``plan.changed`` in order (a plan used again after another appears again)."""
    plan_digest: str = ""
    """The digest of the plan of the last ``plan.changed``: the plan the log's latest events were made with."""
    count: int = 0
    head: str = GENESIS
    last_time: datetime | None = None

    # ----------------------------------------------------------------- folding

    def apply(self, event: Event) -> None:
        found = _HANDLERS.get(event.type)
        if found is not None:
            kind, handler = found
            handler(self, event, Mark(event.actor, event.time, event.seq), pl.decode(event, kind))
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
# Each reads its event's typed payload (cockpit.payloads), by attribute: never a dict by string key.

Handler = Callable[[RolloutState, Event, Mark, Any], None]
_HANDLERS: dict[str, tuple[type[pl.Payload], Handler]] = {}


def _on(*kinds: type[pl.Payload]) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for kind in kinds:
            _HANDLERS[kind.TYPE] = (kind, fn)
        return fn

    return register


@_on(pl.ApprovalSigned)
def _signed(s: RolloutState, e: Event, m: Mark, p: pl.ApprovalSigned) -> None:
    s.approvals[p.role] = Approval(p.role, m, p.digest, e)


@_on(pl.ApprovalRevoked)
def _revoked(s: RolloutState, e: Event, m: Mark, p: pl.ApprovalRevoked) -> None:
    s.approvals.pop(p.role, None)


@_on(pl.ItemTicked)
def _ticked(s: RolloutState, e: Event, m: Mark, p: pl.ItemTicked) -> None:
    s.ticks[(p.stage, p.item)] = m


@_on(pl.ItemUnticked)
def _unticked(s: RolloutState, e: Event, m: Mark, p: pl.ItemUnticked) -> None:
    s.ticks.pop((p.stage, p.item), None)


@_on(pl.NoteAdded)
def _note(s: RolloutState, e: Event, m: Mark, p: pl.NoteAdded) -> None:
    s.notes.append((p.text, m))


@_on(pl.StageEntered)
def _entered(s: RolloutState, e: Event, m: Mark, p: pl.StageEntered) -> None:
    s.stage_index = p.index
    s.entered[p.stage] = m


@_on(pl.StageCompleted)
def _completed(s: RolloutState, e: Event, m: Mark, p: pl.StageCompleted) -> None:
    s.completed[p.stage] = m


@_on(pl.GateOverridden)
def _overridden(s: RolloutState, e: Event, m: Mark, p: pl.GateOverridden) -> None:
    s.overrides.append(Override(p.stage, p.reason, p.blockers, m))


@_on(pl.BaselineCaptured)
def _baseline(s: RolloutState, e: Event, m: Mark, p: pl.BaselineCaptured) -> None:
    s.baseline = {name: BaselineValue(v.value, e.time, v.window, v.query) for name, v in p.metrics.items()}
    s.baseline_mark = m
    s.baseline_missing = p.missing


@_on(pl.CheckResult)
def _check(s: RolloutState, e: Event, m: Mark, p: pl.CheckResult) -> None:
    s.checks[(p.stage, p.check)] = CheckResult(p.ok, p.value, p.detail, m)


@_on(pl.FlagChanged)
def _flag(s: RolloutState, e: Event, m: Mark, p: pl.FlagChanged) -> None:
    s.flags[p.flag] = FlagState(p.enabled, p.percent, m)
    if p.step:
        s.canary[(p.stage, p.step)] = m


@_on(pl.SoakStarted)
def _soak_started(s: RolloutState, e: Event, m: Mark, p: pl.SoakStarted) -> None:
    key = (p.stage, p.step)
    before = s.soaks.get(key)
    soak = Soak(
        p.stage,
        p.step,
        timedelta(seconds=p.seconds),
        e.time,
        p.on_breach,
        before.first_started if before and before.first_started else e.time,  # a retake keeps the first start
        flag=p.flag,
        history=list(before.history) if before else [],
    )
    soak.history.append(SoakMoment("started", e.time, "step taken again" if before else ""))
    s.soaks[key] = soak


@_on(pl.SoakBroken)
def _soak_broken(s: RolloutState, e: Event, m: Mark, p: pl.SoakBroken) -> None:
    soak = s.soaks.get((p.stage, p.step))
    if soak is None or soak.completed_at or soak.failed or soak.stopped_at:
        return
    soak.breaks.append(e.time)
    soak.history.append(SoakMoment("broken", e.time, f"{p.metric} = {p.value}"))
    if soak.on_breach == "fail":
        soak.failed = True
        soak.history.append(SoakMoment("failed", e.time, "on_breach = fail"))
    else:
        soak.waiting_on.add(p.metric)  # it restarts when the metric is OK again (soak.restarted)


@_on(pl.SoakRestarted)
def _soak_restarted(s: RolloutState, e: Event, m: Mark, p: pl.SoakRestarted) -> None:
    soak = s.soaks.get((p.stage, p.step))
    if soak is None or soak.completed_at or soak.failed or soak.stopped_at:
        return
    soak.waiting_on.clear()
    soak.started = e.time
    soak.history.append(SoakMoment("restarted", e.time, p.reason))


@_on(pl.SoakCompleted)
def _soak_completed(s: RolloutState, e: Event, m: Mark, p: pl.SoakCompleted) -> None:
    soak = s.soaks.get((p.stage, p.step))
    if soak is not None and soak.running:
        soak.completed_at = e.time
        soak.history.append(SoakMoment("completed", e.time))


@_on(pl.BreachOpened)
def _breach_opened(s: RolloutState, e: Event, m: Mark, p: pl.BreachOpened) -> None:
    breach = Breach(p.metric, p.stage, p.value, p.threshold, m)
    s.breaches[p.metric] = breach
    s.breach_log.append((breach, None))


@_on(pl.BreachClosed)
def _breach_closed(s: RolloutState, e: Event, m: Mark, p: pl.BreachClosed) -> None:
    breach = s.breaches.pop(p.metric, None)
    if breach is None:
        return
    for i in range(len(s.breach_log) - 1, -1, -1):
        if s.breach_log[i][0] is breach:
            s.breach_log[i] = (breach, m)
            break


@_on(pl.KillRequested)
def _kill(s: RolloutState, e: Event, m: Mark, p: pl.KillRequested) -> None:
    """A kill stops the soaks of the flags it turns off (a soak of an unknown flag, from an older log, too)."""
    s.kills.append(e)
    killed = set(p.flags)
    for soak in s.soaks.values():
        if (soak.running or soak.waiting_on) and (not killed or not soak.flag or soak.flag in killed):
            soak.stopped_at = e.time
            soak.waiting_on.clear()
            soak.history.append(SoakMoment("stopped", e.time, "by kill"))


@_on(pl.KillFlagResult)
def _kill_flag(s: RolloutState, e: Event, m: Mark, p: pl.KillFlagResult) -> None:
    if p.verified_off:
        s.flags[p.flag] = FlagState(False, 0, m)


@_on(pl.AutokillStarted)
def _autokill_started(s: RolloutState, e: Event, m: Mark, p: pl.AutokillStarted) -> None:
    s.autokill[p.metric] = m
    if p.countdown:
        s.autokill_countdown[p.metric] = p.countdown


@_on(pl.AutokillCancelled, pl.AutokillFired)
def _autokill_stopped(s: RolloutState, e: Event, m: Mark, p: pl.AutokillCancelled | pl.AutokillFired) -> None:
    s.autokill.pop(p.metric, None)
    if p.all:
        s.autokill.clear()
    s.autokill_done.update(p.breaches)
    breaches = e.payload.get("breaches")
    if isinstance(breaches, dict):
        s.autokill_done.update({str(k): int(v) for k, v in breaches.items() if isinstance(v, int)})


@_on(pl.IncidentOpened)
def _incident(s: RolloutState, e: Event, m: Mark, p: pl.IncidentOpened) -> None:
    s.incidents.append(Incident(len(s.incidents) + 1, p.reason, m))


@_on(pl.IncidentStepDone)
def _incident_step(s: RolloutState, e: Event, m: Mark, p: pl.IncidentStepDone) -> None:
    incident = s.open_incident
    if incident is not None:
        incident.steps_done[p.action] = m
        if p.by == "kill":
            incident.by_kill.add(p.action)


@_on(pl.IncidentClosed)
def _incident_closed(s: RolloutState, e: Event, m: Mark, p: pl.IncidentClosed) -> None:
    incident = s.open_incident
    if incident is not None:
        incident.closed = m


@_on(pl.SignoffSigned)
def _signoff(s: RolloutState, e: Event, m: Mark, p: pl.SignoffSigned) -> None:
    s.signoffs[p.role] = m
    s.signoff_by[p.role] = e.actor.user


@_on(pl.PlanChanged)
def _plan_changed(s: RolloutState, e: Event, m: Mark, p: pl.PlanChanged) -> None:
    version = PlanVersion(p.digest, p.signed, p.changes, m)
    s.plans[p.digest] = version
    s.plan_history.append(version)
    s.plan_digest = p.digest
