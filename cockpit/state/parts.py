"""What the rollout's state is made of: who did what when (:class:`Mark`), approvals, plan versions, check
results, the baseline, soaks and their history, breaches, overrides, flags, incidents. Plain records; the
fold (:mod:`cockpit.state.fold`) builds them from the audit log."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cockpit.events import Actor, Event


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
    event: Event | None = None
    """The approval event itself (its SSH signature, if any, is checked against it: :mod:`cockpit.signing`)."""


@dataclass(frozen=True)
class PlanVersion:
    """A plan the log has seen (``plan.changed``): its digest, what it signs, and what changed from the one before."""

    digest: str
    signed: dict[str, Any]
    changes: tuple[str, ...]
    mark: Mark


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


@dataclass(frozen=True)
class SoakMoment:
    """One moment of a soak's history: ``started``, ``broken``, ``restarted``, ``stopped``, ``failed``,
    ``completed``; ``detail`` says by what (a metric and its value, the kill)."""

    kind: str
    at: datetime
    detail: str = ""


@dataclass
class Soak:
    """A wait/soak period after a canary step.

    It runs from ``started``; a breach breaks it (``on_breach = "fail"``: for good; ``"restart"``: it
    waits, then starts again from zero when every breach that broke it has closed); a kill of its flag
    stops it (only taking the step again starts a new soak). ``history`` keeps every moment, across
    retakes of the step.
    """

    stage: str
    step: str
    duration: timedelta
    started: datetime
    on_breach: str = "restart"
    first_started: datetime | None = None
    breaks: list[datetime] = field(default_factory=list)
    failed: bool = False
    completed_at: datetime | None = None
    flag: str = ""
    waiting_on: set[str] = field(default_factory=set)
    """Metrics whose open breach holds a restarting soak (it restarts when the last one closes)."""
    stopped_at: datetime | None = None
    """When a kill stopped it."""
    history: list[SoakMoment] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return not (self.failed or self.waiting_on or self.stopped_at or self.completed_at)

    @property
    def state(self) -> str:
        """``running``, ``broken`` (waiting to restart), ``stopped`` (by a kill), ``failed`` or ``completed``."""
        if self.completed_at is not None:
            return "completed"
        if self.failed:
            return "failed"
        if self.stopped_at is not None:
            return "stopped"
        return "broken" if self.waiting_on else "running"

    def elapsed(self, now: datetime) -> timedelta:
        if self.waiting_on or self.failed:
            return timedelta(0)
        end = self.completed_at or self.stopped_at or now
        return max(min(end - self.started, self.duration), timedelta(0))

    def remaining(self, now: datetime) -> timedelta:
        return self.duration - self.elapsed(now)

    def done(self, now: datetime) -> bool:
        if self.completed_at is not None:
            return True
        return self.running and now - self.started >= self.duration


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
    by_kill: set[str] = field(default_factory=set)
    """Actions the kill did (``done_by_kill``): on time however long the incident took to open."""
    closed: Mark | None = None
