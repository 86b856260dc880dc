"""The audit log's rules: the ``EventStore`` protocol every store keeps, its errors, and the chain check.

The file log itself is :mod:`cockpit.store.filelog` (locked, fsync'ed appends, the head witness, torn and
cut-short tails), the shared PostgreSQL record :mod:`cockpit.store.pg`. :func:`verify_lines` and
:func:`verify_file` walk a chain and name the first bad line and what happened to it; :func:`against_heads`
compares its end with the heads witnessed outside it (a chain cut short is still intact on its own).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import msgspec

from cockpit.events import GENESIS, Actor, Event, Sign, event_hash
from cockpit.store.files import UnsafeFile, describe_os_error, open_regular, read_lines
from cockpit.store.witness import Head


class AuditError(Exception):
    """The audit log cannot be used as it is."""


class TornTail(AuditError):
    def __init__(self, path: Path, line: int, fragment: bytes, why: str = "") -> None:
        why = why or f"torn last line ({len(fragment)} bytes without a newline, probably a crash mid-write)"
        super().__init__(f"{path}:{line}: {why}; run 'cockpit audit repair' to set it aside")
        self.line = line
        self.fragment = fragment


class CutShort(AuditError):
    """The log ends before the head its witness says was acknowledged."""

    def __init__(self, path: Path, seq: int, witnessed: Head) -> None:
        super().__init__(f"{path}: {cut_short_message(seq, witnessed)}; run 'cockpit audit verify'")
        self.seq = seq
        self.witnessed = witnessed


def cut_short_message(seq: int, witnessed: Head) -> str:
    """``log ends at event 19; event 22 (hash 329cd74a…) was acknowledged at T`` (or differs from it)."""
    when = f" at {witnessed.time}" if witnessed.time else ""
    where = f" (witness: {witnessed.where})" if witnessed.where else ""
    if seq >= witnessed.seq:
        return (
            f"event {witnessed.seq} is not the event acknowledged{when}: the log's hash differs from "
            f"{witnessed.hash[:16]}…{where}; the log was replaced"
        )
    return f"log ends at event {seq}; event {witnessed.seq} (hash {witnessed.hash[:16]}…) was acknowledged{when}{where}"


class ReadOnlyStore(AuditError):
    def __init__(self) -> None:
        super().__init__("read-only: this cockpit was started with --readonly and changes nothing")


class EventStore(Protocol):
    """Where events live: the file log here, PostgreSQL in :mod:`cockpit.store.pg`.

    Every capability a caller may need is a member, so nothing probes a store with ``getattr``.
    """

    readonly: bool
    """Started with ``--readonly``: every write raises :class:`ReadOnlyStore`."""
    torn: TornTail | CutShort | None
    """A last line torn by a crash, or a log cut short before its witnessed head (the file log): new events
    are refused until ``cockpit audit repair``."""

    @property
    def degraded(self) -> bool:
        """The shared database is unreachable: events wait in the local spool."""
        ...

    @property
    def spooled(self) -> int:
        """How many events wait in the local spool (0 for the file log)."""
        ...

    @property
    def reachable(self) -> bool:
        """The shared database answers (always, for the file log): degraded and reachable is flushing."""
        ...

    @property
    def last_contact(self) -> datetime | None:
        """When the shared database last answered (None for the file log, or never)."""
        ...

    def decision_lock(self) -> AbstractContextManager[None]:
        """Held while one shared decision (an auto-kill's start or fire) is checked and recorded, so two
        cockpits on one rollout never both decide; released before anything slow runs."""
        ...

    def subscribe(self, callback: Callable[[int], None]) -> Callable[[], None]:
        """Call ``callback(seq)`` for new events written by other processes; returns the unsubscribe.
        The file log has no push channel (its readers re-read on a timer): it never calls back."""
        ...

    def append(
        self,
        type: str,
        payload: dict[str, Any],
        actor: Actor,
        time: datetime,
        *,
        guard: Callable[[], None] | None = None,
        sign: Sign | None = None,
    ) -> Event:
        """Append one event after the current head; durable when this returns.

        ``guard`` is called holding the append lock, before the event is sealed: what it checks cannot
        change until the event is written, and raising refuses the append. ``sign`` signs the event's
        canonical bytes once the previous hash is known (:func:`cockpit.events.seal`).
        """
        ...

    def read(self, after: int = 0) -> list[Event]:
        """Events with ``seq > after``, in order."""
        ...

    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the last event, ``(0, GENESIS)`` when empty."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ChainProblem:
    """The first thing wrong with a chain."""

    line: int
    kind: str
    """One of ``edited``, ``deleted``, ``reordered``, ``inserted``, ``truncated``, ``corrupt``."""
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.kind}: {self.message}"


@dataclass(frozen=True)
class Verification:
    count: int
    head: str
    problem: ChainProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def witness_ahead(seq: int, prev: str, witnessed: Head) -> bool:
    """The log (ending at ``seq`` with hash ``prev``) is short of, or other than, the witnessed head."""
    return seq < witnessed.seq or (seq == witnessed.seq and prev != witnessed.hash)


_decode = msgspec.json.Decoder().decode


def parse_line(raw: bytes) -> Any:
    """One line of the log, as ``json.loads`` reads it, with msgspec (a 100k-event replay's parse in about
    half the time); what msgspec refuses and ``json`` accepts (``NaN``, huge numbers) goes to ``json``."""
    try:
        return _decode(raw)
    except msgspec.DecodeError:  # a ValueError too: if json refuses it as well, that propagates
        return json.loads(raw)


def verify_lines(lines: list[bytes], *, complete: bool = True) -> Verification:
    """Walk a chain given as raw lines (``complete``: the data ended with a newline)."""
    prev, expected = GENESIS, 1
    seqs: list[int | None] = []
    for raw in lines:
        try:
            seqs.append(int(json.loads(raw)["seq"]))
        except (ValueError, KeyError, TypeError):
            seqs.append(None)
    for index, raw in enumerate(lines):
        line = index + 1
        last = index == len(lines) - 1
        try:
            event = Event.from_dict(json.loads(raw))
        except (ValueError, KeyError, TypeError) as exc:
            if last and not complete:
                return Verification(index, prev, ChainProblem(line, "truncated", "the last line is torn (no newline)"))
            return Verification(index, prev, ChainProblem(line, "corrupt", f"not a valid event ({exc})"))
        if event_hash(event) != event.hash:
            return Verification(
                index, prev, ChainProblem(line, "edited", f"event {event.seq}'s content does not match its hash")
            )
        if event.seq > expected:
            if expected in seqs[index + 1 :]:
                where = seqs.index(expected, index + 1) + 1
                msg = f"event {expected} is expected here but appears at line {where}"
                return Verification(index, prev, ChainProblem(line, "reordered", msg))
            missing = f"{expected}" if event.seq == expected + 1 else f"{expected}..{event.seq - 1}"
            return Verification(
                index, prev, ChainProblem(line, "deleted", f"event(s) {missing} are missing before this line")
            )
        if event.seq < expected:
            if event.seq in seqs[:index]:
                return Verification(
                    index,
                    prev,
                    ChainProblem(
                        line,
                        "inserted",
                        f"seq {event.seq} appears twice; a line was inserted before this one",
                    ),
                )
            return Verification(index, prev, ChainProblem(line, "reordered", f"event {event.seq} is out of order"))
        if event.prev != prev:
            return Verification(
                index,
                prev,
                ChainProblem(line, "inserted", "the chain breaks here: prev does not match the line before"),
            )
        prev, expected = event.hash, expected + 1
    if not complete:
        return Verification(
            len(lines), prev, ChainProblem(len(lines) + 1, "truncated", "the last line is torn (no newline)")
        )
    return Verification(len(lines), prev, None)


def chain_problem(events: Sequence[Event], prev: str = GENESIS, seq: int = 0) -> ChainProblem | None:
    """The first break in ``events`` as a store handed them over, continuing the chain at ``(seq, prev)``: an
    event whose content does not match its hash (edited), a missing, repeated or out-of-order sequence number, a
    ``prev`` that is not the hash before it. ``line`` is the event's position in the chain (the file log's line)."""
    for event in events:
        seq += 1
        if event.seq != seq:
            kind = "deleted" if event.seq > seq else "inserted"
            return ChainProblem(seq, kind, f"event {seq} is expected here, event {event.seq} is found")
        if event.prev != prev:
            return ChainProblem(seq, "inserted", "the chain breaks here: prev does not match the event before")
        if event_hash(event) != event.hash:
            return ChainProblem(seq, "edited", f"event {event.seq}'s content does not match its hash")
        prev = event.hash
    return None


def verify_file(path: Path, heads: Sequence[Head] = ()) -> Verification:
    """Walk the chain of the log at ``path``; then compare its end with each witnessed head in ``heads``
    (the sidecar, the history database, ``--head``): a log that ends before one, or has another event
    there, is ``truncated``. Raises AuditError for a file that is not a plain file or has an endless line."""
    try:
        fd = open_regular(path, os.O_RDONLY)
    except UnsafeFile as exc:
        raise AuditError(str(exc)) from None
    except OSError as exc:
        raise AuditError(f"{path}: cannot read: {describe_os_error(exc)}") from None
    lines: list[bytes] = []
    complete = True
    try:
        for raw, whole in read_lines(fd, path):
            lines.append(raw)
            complete = whole
    except UnsafeFile as exc:
        raise AuditError(str(exc)) from None
    finally:
        os.close(fd)
    result = _verify_torn(lines) if not complete else verify_lines(lines)
    if result.problem is not None and result.problem.kind == "corrupt" and result.problem.line == len(lines):
        why = "the last line is not a JSON event (torn; 'cockpit audit repair' sets it aside)"
        return Verification(result.count, result.head, ChainProblem(result.problem.line, "truncated", why))
    return against_heads(lines, result, heads)


def against_heads(lines: list[bytes], result: Verification, heads: Sequence[Head]) -> Verification:
    """``result`` (the walk of ``lines``), or ``truncated`` when the chain ends before a witnessed head in
    ``heads`` or has another event at its sequence number (the file log and the PostgreSQL record alike)."""
    if result.problem is not None or not heads:
        return result
    hashes = {index + 1: str(json.loads(raw)["hash"]) for index, raw in enumerate(lines[: result.count])}
    for head in sorted(heads, key=lambda h: -h.seq):
        if result.count < head.seq or not hashes.get(head.seq, "").startswith(head.hash):
            problem = ChainProblem(result.count + 1, "truncated", cut_short_message(result.count, head))
            return Verification(result.count, result.head, problem)
    return result


def _verify_torn(lines: list[bytes]) -> Verification:
    result = verify_lines(lines[:-1])
    if result.problem:
        return result
    return Verification(
        result.count, result.head, ChainProblem(len(lines), "truncated", "the last line is torn (no newline)")
    )
