"""Events: every operator action and every decision the cockpit makes.

An event is one line of the audit log. Its hash covers its sequence number, time, actor, type,
payload and the previous event's hash, so the log is a chain: editing, deleting, reordering or
inserting a line breaks it at that line.

A decision may also carry ``sig``: an SSH signature (:mod:`cockpit.signing`) over the event's
:func:`signed_bytes`, i.e. everything but ``hash`` and ``sig``, the previous event's hash included.
The hash then covers the signature too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cockpit.text import visible

GENESIS = "0" * 64

# Event types. The payload of each is a plain JSON object; see the reducer in cockpit.state.
APPROVAL_SIGNED = "approval.signed"
APPROVAL_REVOKED = "approval.revoked"
ITEM_TICKED = "item.ticked"
ITEM_UNTICKED = "item.unticked"
NOTE_ADDED = "note.added"
STAGE_ENTERED = "stage.entered"
STAGE_COMPLETED = "stage.completed"
GATE_OVERRIDDEN = "gate.overridden"
BASELINE_CAPTURED = "baseline.captured"
CHECK_RESULT = "check.result"
SOAK_STARTED = "soak.started"
SOAK_BROKEN = "soak.broken"
SOAK_COMPLETED = "soak.completed"
SOAK_RESTARTED = "soak.restarted"
BREACH_OPENED = "breach.opened"
BREACH_CLOSED = "breach.closed"
FLAG_CHANGED = "flag.changed"
KILL_REQUESTED = "kill.requested"
KILL_FLAG_RESULT = "kill.flag_result"
KILL_RESULT = "kill.result"
AUTOKILL_STARTED = "autokill.started"
AUTOKILL_CANCELLED = "autokill.cancelled"
AUTOKILL_FIRED = "autokill.fired"
INCIDENT_OPENED = "incident.opened"
INCIDENT_STEP_DONE = "incident.step_done"
INCIDENT_CLOSED = "incident.closed"
CAPTURE_WRITTEN = "capture.written"
EXPORT_WRITTEN = "export.written"
SIGNOFF_SIGNED = "signoff.signed"
PLAN_CHANGED = "plan.changed"

ALL_TYPES = frozenset(v for k, v in dict(globals()).items() if k.isupper() and isinstance(v, str) and "." in v)


@dataclass(frozen=True)
class Actor:
    """Who did it: the real OS user (from the uid), the host, and the SSH client when there is one."""

    user: str
    uid: int
    host: str
    ssh: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"user": self.user, "uid": self.uid, "host": self.host, "ssh": self.ssh}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Actor:
        key = (str(data["user"]), int(data["uid"]), str(data["host"]), str(data.get("ssh", "")))
        actor = _ACTORS.get(key)
        if actor is None:  # a log has few distinct actors: share them (replay speed, memory)
            actor = _ACTORS[key] = cls(*key)
        return actor

    def __str__(self) -> str:
        return f"{self.user}@{self.host}"


_ACTORS: dict[tuple[str, int, str, str], Actor] = {}
SYSTEM = Actor("cockpit", -1, "")


@dataclass(frozen=True)
class Signature:
    """An SSH signature of an event's :func:`signed_bytes` (``ssh-keygen -Y sign``, SSHSIG format)."""

    principal: str
    """Who signed, as the ``allowed_signers`` file names them ("alice@example.com")."""
    fingerprint: str
    """The signing key's ``SHA256:...`` fingerprint."""
    signature: str
    """The armored ``-----BEGIN SSH SIGNATURE-----`` block."""
    namespace: str = "rollout-cockpit"

    def as_dict(self) -> dict[str, str]:
        return {
            "principal": self.principal,
            "fingerprint": self.fingerprint,
            "namespace": self.namespace,
            "signature": self.signature,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signature:
        return cls(str(data["principal"]), str(data["fingerprint"]), str(data["signature"]), str(data["namespace"]))


Sign = Callable[[bytes], "Signature | None"]
"""Signs an event's canonical bytes at append time (None: recorded unsigned)."""


@dataclass(frozen=True)
class Event:
    """One audited fact. ``hash`` is the SHA-256 of the other fields (see :func:`event_hash`)."""

    seq: int
    time: datetime
    actor: Actor
    type: str
    payload: dict[str, Any] = field(default_factory=dict)
    prev: str = GENESIS
    hash: str = ""
    sig: Signature | None = None

    def as_dict(self) -> dict[str, Any]:
        data = {
            "seq": self.seq,
            "time": format_time(self.time),
            "actor": self.actor.as_dict(),
            "type": self.type,
            "payload": self.payload,
            "prev": self.prev,
            "hash": self.hash,
        }
        if self.sig is not None:  # unsigned events keep the shape (and hash) they always had
            data["sig"] = self.sig.as_dict()
        return data

    def to_line(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        return cls(
            seq=int(data["seq"]),
            time=parse_time(data["time"]),
            actor=Actor.from_dict(data["actor"]),
            type=str(data["type"]),
            payload=dict(data["payload"]),
            prev=str(data["prev"]),
            hash=str(data["hash"]),
            sig=Signature.from_dict(data["sig"]) if "sig" in data else None,
        )


def seal(
    seq: int,
    time: datetime,
    actor: Actor,
    type: str,
    payload: dict[str, Any],
    prev: str,
    sign: Sign | None = None,
) -> Event:
    """Build the event with its hash; ``sign`` (given the previous hash, so at append time) signs it first."""
    event = Event(seq, time, actor, type, payload, prev)
    sig = sign(signed_bytes(event)) if sign is not None else None
    event = Event(seq, time, actor, type, payload, prev, "", sig)
    return Event(seq, time, actor, type, payload, prev, event_hash(event), sig)


def presigned(
    sign: Sign, seq: int, time: datetime, actor: Actor, type: str, payload: dict[str, Any], prev: str
) -> Sign:
    """``sign``, asked now for the event sealed on ``(seq, prev)``: when the head is still that at append
    time (under the store's lock) the signature is reused, so a slow agent holds up no lock."""
    data = signed_bytes(Event(seq, time, actor, type, payload, prev))
    early = sign(data)
    return lambda again: early if again == data else sign(again)


def signed_bytes(event: Event) -> bytes:
    """What a signature covers: the canonical JSON of the event without ``hash`` and ``sig``."""
    body = event.as_dict()
    del body["hash"]
    body.pop("sig", None)
    return _canonical(body)


def event_hash(event: Event) -> str:
    body = event.as_dict()
    del body["hash"]
    return hashlib.sha256(_canonical(body)).hexdigest()


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def format_time(time: datetime) -> str:
    return time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    if not text.endswith("Z"):
        raise ValueError(f"event time {text!r} is not UTC")
    return datetime.fromisoformat(text)


def describe(event: Event) -> str:
    """One event on one line, for ``cockpit audit show`` and the dashboard's audit view."""
    shown = event.payload
    if event.type == PLAN_CHANGED:  # the signed content is for the record (and --json), not for a line
        shown = {k: v for k, v in shown.items() if k != "signed"}
    payload = json.dumps(shown, sort_keys=True, ensure_ascii=False)
    line = f"{event.seq:>6}  {format_time(event.time)[:19]}Z  {event.actor!s:<24} {event.type:<18} {payload}"
    return visible(line)  # C1 and bidi controls too (JSON escapes only C0), wherever the line is shown
