"""Typed events: the payload of every event type as one ``msgspec.Struct``, encoded and decoded here.

An event is a line of the chain (:mod:`cockpit.events`); its ``payload`` is stored as a plain JSON object,
so the bytes and hashes of every log ever written stay as they are. What the payload holds is declared
here, once: :meth:`cockpit.rollout.Rollout.record` checks a payload against its type before appending it
(a writer's typo fails there, loudly, instead of being read back as "missing" later), and the state fold
and the export read payloads through :func:`decode`, by attribute.

Fields that older logs may lack have defaults; keys a payload has beyond its struct (added by a newer
release, or the ``spooled`` note of an event re-sealed after an outage) are kept in the log and ignored
here. A payload that does not match its type raises :class:`PayloadError` naming the event.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import msgspec

from cockpit import events as ev
from cockpit.events import Event

Scalar = bool | int | float | str | None
"""A metric's value as a payload carries it: a number, a text ("healthy"), or nothing."""


class PayloadError(ValueError):
    """A payload that does not match its event type."""


class Payload(msgspec.Struct, frozen=True, kw_only=True):
    """The payload of one event type; ``TYPE`` is that type."""

    TYPE: ClassVar[str] = ""


class ApprovalSigned(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.APPROVAL_SIGNED
    role: str
    title: str = ""
    handle: str = ""
    digest: str = ""
    """The plan digest the approval was given for: another digest voids it."""


class ApprovalRevoked(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.APPROVAL_REVOKED
    role: str


class ItemTicked(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.ITEM_TICKED
    stage: str
    item: str


class ItemUnticked(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.ITEM_UNTICKED
    stage: str
    item: str


class NoteAdded(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.NOTE_ADDED
    text: str


class StageEntered(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.STAGE_ENTERED
    stage: str
    index: int
    irreversible: bool = False


class StageCompleted(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.STAGE_COMPLETED
    stage: str
    index: int = -1


class GateOverridden(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.GATE_OVERRIDDEN
    stage: str
    reason: str
    blockers: tuple[str, ...] = ()
    step: str = ""
    """A canary step taken past its gate (``flag set --override``); empty for a stage's gate."""


class BaselineValue(msgspec.Struct, frozen=True, kw_only=True):
    value: float
    window: str = ""
    query: str = ""


class BaselineCaptured(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.BASELINE_CAPTURED
    metrics: dict[str, BaselineValue]
    partial: bool = False
    missing: tuple[str, ...] = ()


class CheckResult(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.CHECK_RESULT
    stage: str
    check: str
    ok: bool
    value: Any = None
    detail: str = ""


class FlagChanged(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.FLAG_CHANGED
    flag: str
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    stage: str = ""
    step: str = ""
    """The canary step this change took (empty: not a step, or a step that failed)."""
    failed_step: str = ""
    reason: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.after.get("enabled"))

    @property
    def percent(self) -> int:
        return int(self.after.get("percent", 0) or 0)


class SoakStarted(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.SOAK_STARTED
    stage: str
    step: str
    seconds: float
    on_breach: str = "restart"
    label: str = ""
    flag: str = ""


class SoakBroken(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.SOAK_BROKEN
    stage: str
    step: str
    metric: str = ""
    value: Scalar = None
    action: str = ""


class SoakRestarted(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.SOAK_RESTARTED
    stage: str
    step: str
    reason: str = ""


class SoakCompleted(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.SOAK_COMPLETED
    stage: str
    step: str
    seconds: float = 0.0


class BreachOpened(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.BREACH_OPENED
    metric: str
    value: Scalar = None
    threshold: str = ""
    stage: str = ""


class BreachClosed(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.BREACH_CLOSED
    metric: str
    value: Scalar = None


class KillRequested(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.KILL_REQUESTED
    reason: str = ""
    flags: tuple[str, ...] = ()
    """The flags the kill drives (empty in older logs: every flag)."""
    trigger: str = ""


class KillFlagResult(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.KILL_FLAG_RESULT
    flag: str
    verified_off: bool = False
    attempts: int = 0
    error: str = ""
    after_deadline: bool = False


class KillResult(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.KILL_RESULT
    all_off: bool = False
    may_be_on: tuple[str, ...] = ()
    reason: str = ""
    unanswered: tuple[str, ...] = ()


class AutokillStarted(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.AUTOKILL_STARTED
    metric: str
    label: str = ""
    value: Scalar = None
    threshold: str = ""
    breach: int = 0
    """The ``breach.opened`` event (its seq) this countdown is for: one decision per breach."""
    breached_for: float = 0.0
    countdown: float = 0.0


class AutokillCancelled(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.AUTOKILL_CANCELLED
    metric: str = ""
    all: bool = False
    metrics: tuple[str, ...] = ()
    breaches: dict[str, int] = {}
    """By metric, the breach (its seq) whose countdown this ends: it never re-arms."""
    reason: str = ""
    by: str = ""


class AutokillFired(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.AUTOKILL_FIRED
    metric: str = ""
    all: bool = False
    metrics: tuple[str, ...] = ()
    breaches: dict[str, int] = {}


class IncidentOpened(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.INCIDENT_OPENED
    reason: str = ""


class IncidentStepDone(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.INCIDENT_STEP_DONE
    action: str
    incident: int = 0
    by: str = ""
    """``kill``: done by a kill that verified every flag off."""


class IncidentClosed(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.INCIDENT_CLOSED
    note: str = ""
    reason: str = ""


class CaptureWritten(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.CAPTURE_WRITTEN
    path: str = ""
    events: int = 0


class ExportWritten(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.EXPORT_WRITTEN
    path: str = ""
    format: str = ""
    count: int = 0
    head: str = ""
    bytes: int = 0
    sha256: str = ""
    """The SHA-256 of the bytes written: ``export --verify`` vouches for a file only if its content is this."""


class SignoffSigned(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.SIGNOFF_SIGNED
    role: str
    title: str = ""
    digest: str = ""


class PlanChanged(Payload, frozen=True, kw_only=True):
    TYPE: ClassVar[str] = ev.PLAN_CHANGED
    digest: str
    previous: str = ""
    changes: tuple[str, ...] = ()
    signed: dict[str, Any] = {}
    """The plan's signed content (what the digest is of)."""


TYPES: dict[str, type[Payload]] = {cls.TYPE: cls for cls in Payload.__subclasses__()}
"""Every event type's payload struct, by type."""

_P = TypeVar("_P", bound=Payload)


def parse(type: str, payload: dict[str, Any]) -> Payload | None:
    """The typed payload of an event of ``type`` (None for a type this release does not know)."""
    kind = TYPES.get(type)
    if kind is None:
        return None
    try:
        return msgspec.convert(payload, kind, strict=False)
    except msgspec.ValidationError as exc:
        raise PayloadError(f"{type} payload: {exc}") from None


def decode(event: Event, kind: type[_P]) -> _P:
    """``event``'s payload as ``kind`` (the struct of its type); PayloadError names the event otherwise."""
    try:
        return msgspec.convert(event.payload, kind, strict=False)
    except msgspec.ValidationError as exc:
        raise PayloadError(f"event {event.seq} ({event.type}): payload does not match: {exc}") from None


def encode(payload: Payload) -> dict[str, Any]:
    """The JSON object stored in the log for ``payload``."""
    data: dict[str, Any] = msgspec.to_builtins(payload)
    return data


assert set(TYPES) <= ev.ALL_TYPES, set(TYPES) - ev.ALL_TYPES
