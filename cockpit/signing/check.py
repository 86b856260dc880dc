"""Checking a decision's signature: good and allowed, unsigned, by a key not allowed, or not matching.

Which events are decisions, and whose principals may sign each: approvals and sign-offs belong to a
role (the plan's ``[[approvers]] principals``); revocations, overrides, kills, canary steps and incident
closes may be signed by any principal of ``allowed_signers``. Every check is ``ssh-keygen``'s; verdicts
are cached by what was signed, so the gate can ask on every redraw.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cockpit import events as ev
from cockpit.events import Event, Signature, event_hash, signed_bytes
from cockpit.plan.model import Plan
from cockpit.signing.allowed import allowed_for_role
from cockpit.signing.sshsig import NAMESPACE, SigningError, check, verify

DECISIONS = frozenset(
    {
        ev.APPROVAL_SIGNED,
        ev.APPROVAL_REVOKED,
        ev.GATE_OVERRIDDEN,
        ev.KILL_REQUESTED,
        ev.SIGNOFF_SIGNED,
        ev.INCIDENT_CLOSED,
    }
)
"""Decisions that are signed; a ``flag.changed`` that takes a canary step (it names a step) is one too."""

ROLE_BOUND = frozenset({ev.APPROVAL_SIGNED, ev.SIGNOFF_SIGNED})
"""Decisions made for an approver role: only the role's principals may sign them."""

NEVER_REFUSED = frozenset({ev.KILL_REQUESTED})
"""Recorded even when signatures are required and none can be made: the kill works whenever it can."""


def printable(text: str, limit: int = 80) -> str:
    """A principal or fingerprint read from a log, safe for a terminal: no C0/C1 or bidi controls, bounded."""
    return "".join(
        "?"
        if ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 or 0x202A <= ord(ch) <= 0x202E or 0x2066 <= ord(ch) <= 0x2069
        else ch
        for ch in str(text)[:limit]
    )


def is_decision(type: str, payload: dict[str, Any]) -> bool:
    return type in DECISIONS or (type == ev.FLAG_CHANGED and bool(payload.get("step")))


def role_principals(plan: Plan | None, event_type: str, payload: dict[str, Any]) -> tuple[str, ...]:
    """The principals that may sign this decision (empty: any principal of allowed_signers)."""
    if plan is None or event_type not in ROLE_BOUND:
        return ()
    try:
        return plan.approver(str(payload.get("role", ""))).principals
    except KeyError:
        return ()


class Status(enum.Enum):
    VALID = "signed"
    UNVERIFIED = "signed, not checked"
    """The signature matches its own key, but no allowed_signers file was given to say whose key it is."""
    UNSIGNED = "unsigned"
    NOT_ALLOWED = "not allowed"
    BAD = "bad signature"


@dataclass(frozen=True)
class Verdict:
    status: Status
    message: str
    principal: str = ""
    fingerprint: str = ""

    @property
    def counts(self) -> bool:
        """Good and allowed: the decision counts where signatures are required."""
        return self.status is Status.VALID


def spooled_original(event: Event) -> Event | str | None:
    """A decision signed while PostgreSQL was away and re-sealed on a newer head keeps its signature over
    the offline original in ``payload["spooled"]``: that original, rebuilt (None when there is none; a
    message when the record does not hold together)."""
    spooled = event.payload.get("spooled")
    if not isinstance(spooled, dict) or not isinstance(spooled.get("sig"), dict):
        return None
    try:
        payload = {k: v for k, v in event.payload.items() if k != "spooled"}
        sig = Signature.from_dict(spooled["sig"])
        original = Event(
            int(spooled["seq"]), event.time, event.actor, event.type, payload, str(spooled["prev"]), "", sig
        )
    except (KeyError, TypeError, ValueError):
        return "the spooled original's signature record is incomplete"
    if event_hash(original) != spooled.get("hash"):
        return "the spooled original does not match the hash recorded for it"
    return Event(
        original.seq, original.time, original.actor, original.type, payload, original.prev, str(spooled["hash"]), sig
    )


_CACHE: dict[tuple[Any, ...], Verdict] = {}
_CACHE_MAX = 4096


def check_event(event: Event, allowed_signers: Path | None, principals: tuple[str, ...] = ()) -> Verdict:
    """The verdict on ``event``'s signature (see :class:`Status`)."""
    sig = event.sig
    if sig is None:
        original = spooled_original(event)
        if original is None:
            return Verdict(Status.UNSIGNED, "unsigned")
        if isinstance(original, str):
            return Verdict(Status.BAD, original)
        verdict = check_event(original, allowed_signers, principals)
        return Verdict(verdict.status, f"{verdict.message} (signed offline as event {original.seq}, "
                       "re-sealed after a database outage)", verdict.principal, verdict.fingerprint)  # fmt: skip
    data = signed_bytes(event)
    try:
        stamp = allowed_signers.stat() if allowed_signers is not None else None
    except OSError:
        stamp = None
    key = (
        hashlib.sha256(data).digest(),
        sig,
        event.time,
        str(allowed_signers),
        (stamp.st_mtime_ns, stamp.st_size, stamp.st_ino) if stamp else None,
        principals,
    )
    known = _CACHE.get(key)
    if known is None:
        known = _check(event, data, allowed_signers, principals)
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[key] = known
    return known


def _check(event: Event, data: bytes, allowed: Path | None, principals: tuple[str, ...]) -> Verdict:
    sig = event.sig
    assert sig is not None
    who = f"{sig.principal} ({sig.fingerprint})"

    def verdict(status: Status, message: str) -> Verdict:
        return Verdict(status, message, sig.principal, sig.fingerprint)

    if sig.namespace != NAMESPACE:
        return verdict(Status.BAD, f"signature namespace {sig.namespace!r} is not {NAMESPACE!r}")
    try:
        if allowed is not None and allowed.is_file() and allowed_for_role(sig.principal, principals):
            result = verify(data, sig.signature, allowed, sig.principal, at=event.time)
            if result.ok and result.fingerprint == sig.fingerprint:
                return verdict(Status.VALID, f"signed by {who}")  # the usual case: one ssh-keygen call
        own = check(data, sig.signature)  # why not: does the signature match the event at all?
    except SigningError as exc:
        return verdict(Status.BAD, f"cannot check the signature: {exc}")
    if not own.ok:
        return verdict(Status.BAD, f"signature by {who} does not match the event (altered after signing?)")
    if own.fingerprint and own.fingerprint != sig.fingerprint:
        return verdict(Status.BAD, f"recorded key {sig.fingerprint} is not the signing key {own.fingerprint}")
    if allowed is None:
        return verdict(Status.UNVERIFIED, f"signed by {who}; no allowed_signers file to check the key against")
    if not allowed.is_file():
        return verdict(Status.NOT_ALLOWED, f"allowed_signers file {allowed} not found")
    if not allowed_for_role(sig.principal, principals):
        return verdict(
            Status.NOT_ALLOWED, f"{sig.principal} may not sign this role (allowed principals: {', '.join(principals)})"
        )
    return verdict(Status.NOT_ALLOWED, f"key {sig.fingerprint} is not allowed for {sig.principal} in {allowed.name}")
