"""Anchors: the log's head (sequence number and hash) written down somewhere else, signed when a key is there.

A chain proves that no line was edited in place; it cannot prove that the file was not cut short or
rewritten whole. An anchor can: ``cockpit audit verify --anchor SEQ:HASH`` (or a file of anchors) fails
unless the log still holds event SEQ with exactly that hash on an intact chain. ``cockpit audit anchor``
prints one, signs it and posts it to the plan's webhooks; the cockpit also anchors at every stage
change, kill and sign-off (:data:`AUTO`): the line goes to ``anchors.jsonl`` in the state directory and
the webhook message of that event carries ``anchor SEQ:HASH``.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cockpit import events as ev
from cockpit.events import Event, Sign, Signature, format_time
from cockpit.signing.check import Status, Verdict
from cockpit.signing.sshsig import NAMESPACE, SigningError, check, verify

AUTO = frozenset({ev.STAGE_ENTERED, ev.KILL_RESULT, ev.SIGNOFF_SIGNED})
"""After these events the cockpit anchors the head by itself."""

MAX_BYTES = 1 << 20
_PAIR = re.compile(r"^\s*(\d+)\s*:\s*([0-9a-f]{64})\s*$")


class AnchorError(ValueError):
    """An anchor that cannot be read."""


@dataclass(frozen=True)
class Anchor:
    """The head of a rollout's log at one moment."""

    rollout: str
    seq: int
    hash: str
    time: str = ""
    sig: Signature | None = None

    def body(self) -> dict[str, Any]:
        return {"rollout": self.rollout, "seq": self.seq, "hash": self.hash, "time": self.time}

    def signed_bytes(self) -> bytes:
        return json.dumps({"anchor": self.body()}, sort_keys=True, separators=(",", ":")).encode()

    def to_line(self) -> str:
        data = self.body()
        if self.sig is not None:
            data["sig"] = self.sig.as_dict()
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


def make_anchor(rollout: str, seq: int, hash: str, time: datetime, sign: Sign | None = None) -> Anchor:
    anchor = Anchor(rollout, seq, hash, format_time(time))
    if sign is None:
        return anchor
    return Anchor(anchor.rollout, seq, hash, anchor.time, sign(anchor.signed_bytes()))


def parse_anchors(spec: str) -> list[Anchor]:
    """``SEQ:HASH``, or a file of anchors: JSON lines as ``audit anchor --json`` writes them, or ``SEQ:HASH`` lines."""
    if match := _PAIR.match(spec):
        return [Anchor("", int(match.group(1)), match.group(2))]
    path = Path(spec)
    try:
        with path.open("rb") as fh:
            text = fh.read(MAX_BYTES).decode(errors="replace")
    except OSError as exc:
        raise AnchorError(f"--anchor {spec}: neither SEQ:HASH nor a readable file ({exc.strerror or exc})") from None
    anchors = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if match := _PAIR.match(line):
            anchors.append(Anchor("", int(match.group(1)), match.group(2)))
            continue
        try:
            data = json.loads(line)
            sig = Signature.from_dict(data["sig"]) if isinstance(data.get("sig"), dict) else None
            anchors.append(
                Anchor(
                    str(data.get("rollout", "")), int(data["seq"]), str(data["hash"]), str(data.get("time", "")), sig
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise AnchorError(f"{path}:{number}: not an anchor (SEQ:HASH or a JSON line with seq and hash)") from None
    if not anchors:
        raise AnchorError(f"{path}: no anchor in the file")
    return anchors


def check_anchor(hashes: dict[int, str], anchor: Anchor) -> str:
    """Why the log (``hashes``: seq to hash, of an intact chain) does not contain ``anchor``; "" when it does."""
    last = max(hashes, default=0)
    if anchor.seq > last:
        return f"anchor {anchor.seq}:{anchor.hash[:16]}: the log ends at event {last}: it was cut short (truncated)"
    if hashes.get(anchor.seq) != anchor.hash:
        found = hashes.get(anchor.seq, "")[:16]
        return (
            f"anchor {anchor.seq}:{anchor.hash[:16]}: event {anchor.seq} now has hash {found}: "
            f"the log was rewritten at or before event {anchor.seq}"
        )
    return ""


def check_anchor_signature(anchor: Anchor, allowed_signers: Path | None) -> Verdict:
    """The verdict on an anchor's own signature (any principal of allowed_signers may sign an anchor)."""
    sig = anchor.sig
    if sig is None:
        return Verdict(Status.UNSIGNED, "unsigned")
    data = anchor.signed_bytes()
    try:
        if sig.namespace != NAMESPACE or not check(data, sig.signature).ok:
            return Verdict(Status.BAD, "the anchor's signature does not match it", sig.principal, sig.fingerprint)
        if allowed_signers is None:
            return Verdict(
                Status.UNVERIFIED, f"signed by {sig.principal} ({sig.fingerprint})", sig.principal, sig.fingerprint
            )
        if not verify(data, sig.signature, allowed_signers, sig.principal).ok:
            return Verdict(
                Status.NOT_ALLOWED,
                f"key {sig.fingerprint} is not allowed for {sig.principal}",
                sig.principal,
                sig.fingerprint,
            )
    except SigningError as exc:
        return Verdict(Status.BAD, f"cannot check the anchor's signature: {exc}")
    return Verdict(Status.VALID, f"signed by {sig.principal} ({sig.fingerprint})", sig.principal, sig.fingerprint)


def append_anchor(path: Path, anchor: Anchor) -> None:
    """Add ``anchor`` to a JSON Lines file of anchors (locked, fsync'ed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, (anchor.to_line() + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def anchor_of(rollout: str, event: Event, sign: Sign | None = None) -> Anchor:
    """The anchor of the head that ``event`` is."""
    return make_anchor(rollout, event.seq, event.hash, event.time, sign)
