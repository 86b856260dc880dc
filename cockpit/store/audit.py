"""The audit log: append-only JSON Lines, one hash-chained event per line.

* An append takes an exclusive ``flock`` on the file, reads the chain head under the lock, writes one
  line and ``fsync``s it before returning, so two cockpits on one host never interleave or fork the
  chain and an acknowledged event survives a crash.
* A last line without its newline (a crash mid-write) is a *torn tail*: reads report it and appends
  refuse to continue the chain until ``cockpit audit repair`` moves the fragment aside (audited).
* :func:`verify` walks the chain and names the first bad line and what happened to it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import msgspec

from cockpit.events import GENESIS, Actor, Event, event_hash, seal


class AuditError(Exception):
    """The audit log cannot be used as it is."""


class TornTail(AuditError):
    def __init__(self, path: Path, line: int, fragment: bytes) -> None:
        super().__init__(
            f"{path}:{line}: torn last line ({len(fragment)} bytes without a newline, "
            "probably a crash mid-write); run 'cockpit audit repair' to set it aside"
        )
        self.line = line
        self.fragment = fragment


class ReadOnlyStore(AuditError):
    def __init__(self) -> None:
        super().__init__("read-only: this cockpit was started with --readonly and changes nothing")


class EventStore(Protocol):
    """Where events live: the file log here, PostgreSQL in :mod:`cockpit.store.pg`."""

    def append(self, type: str, payload: dict[str, Any], actor: Actor, time: datetime) -> Event:
        """Append one event after the current head; durable when this returns."""
        ...

    def read(self, after: int = 0) -> list[Event]:
        """Events with ``seq > after``, in order."""
        ...

    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the last event, ``(0, GENESIS)`` when empty."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Problem:
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
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


class FileStore:
    """The embedded audit log: one JSON Lines file per rollout."""

    def __init__(self, path: Path | str, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._offset = 0  # bytes of the file already parsed by read()
        self._line = 0  # lines already parsed by read()
        self._last_seq = 0
        self.torn: TornTail | None = None
        """Set by :meth:`read` while the last line is torn: reads return the complete events before it,
        appends refuse, and the CLI and the dashboard say so until ``cockpit audit repair``."""

    # ----------------------------------------------------------------- writing

    def append(self, type: str, payload: dict[str, Any], actor: Actor, time: datetime) -> Event:
        if self.readonly:
            raise ReadOnlyStore()
        try:
            return self._append(type, payload, actor, time)
        except OSError as exc:  # a full disk, a read-only mount, no permission: said, not raised raw
            raise AuditError(f"{self.path}: cannot append: {exc.strerror or exc}") from None

    def _append(self, type: str, payload: dict[str, Any], actor: Actor, time: datetime) -> Event:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            seq, prev = self._tail(fd)
            event = seal(seq + 1, time, actor, type, payload, prev)
            data = (event.to_line() + "\n").encode()
            size = os.fstat(fd).st_size
            try:
                written = os.write(fd, data)
                if written != len(data):
                    raise OSError(errno.ENOSPC, f"short write ({written} of {len(data)} bytes)")
                os.fsync(fd)
            except OSError:
                os.ftruncate(fd, size)  # never leave half an event (or an unacknowledged one) behind
                raise
            return event
        finally:
            os.close(fd)  # closing releases the lock

    def _tail(self, fd: int) -> tuple[int, str]:
        """``(seq, hash)`` of the last complete line; raise :class:`TornTail` on a torn one."""
        size = os.fstat(fd).st_size
        if size == 0:
            return 0, GENESIS
        chunk = 4096
        while True:
            start = max(0, size - chunk)
            data = os.pread(fd, size - start, start)
            if not data.endswith(b"\n"):
                fragment = data[data.rfind(b"\n") + 1 :]
                raise TornTail(self.path, self._count_lines(fd, size) + 1, fragment)
            body = data[:-1]
            cut = body.rfind(b"\n")
            if cut >= 0 or start == 0:
                last = json.loads(body[cut + 1 :])
                return int(last["seq"]), str(last["hash"])
            chunk *= 4

    def _count_lines(self, fd: int, size: int) -> int:
        return os.pread(fd, size, 0).count(b"\n")

    def repair(self, actor: Actor, time: datetime) -> Path | None:
        """Move a torn last line to ``<log>.torn-<n>`` and audit that; None when there is nothing to do."""
        if self.readonly:
            raise ReadOnlyStore()
        if not self.path.exists():
            return None
        with self.path.open("r+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            data = fh.read()
            if not data or data.endswith(b"\n"):
                return None
            keep = data.rfind(b"\n") + 1
            fragment = data[keep:]
            n = 1
            while (aside := self.path.with_name(f"{self.path.name}.torn-{n}")).exists():
                n += 1
            aside.write_bytes(fragment)
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
        import hashlib

        self.append(
            "audit.repaired",
            {
                "torn_bytes": len(fragment),
                "sha256": hashlib.sha256(fragment).hexdigest(),
                "moved_to": aside.name,
            },
            actor,
            time,
        )
        return aside

    # ----------------------------------------------------------------- reading

    def read(self, after: int = 0) -> list[Event]:
        """Events after ``after`` (complete lines only; see :attr:`torn`). Reads only what is new
        since the last call when asked for it."""
        if after < self._last_seq:
            self._offset, self._line, self._last_seq = 0, 0, 0
        elif after == self._last_seq and self.torn is None:
            try:  # the usual case on every redraw: nothing appended since the last read, a stat suffices
                if self.path.stat().st_size == self._offset:
                    return []
            except FileNotFoundError:
                return []
        events: list[Event] = []
        try:
            with self.path.open("rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        for raw in data[:end].splitlines():
            self._line += 1
            try:
                event = Event.from_dict(parse_line(raw))
            except (ValueError, KeyError, TypeError) as exc:
                raise AuditError(
                    f"{self.path}:{self._line}: unreadable event ({exc}); run 'cockpit audit verify'"
                ) from None
            self._last_seq = event.seq
            if event.seq > after:
                events.append(event)
        self._offset += end
        self.torn = TornTail(self.path, self._line + 1, data[end:]) if end < len(data) else None
        return events

    def head(self) -> tuple[int, str]:
        if not self.path.exists():
            return 0, GENESIS
        fd = os.open(self.path, os.O_RDONLY)
        try:
            return self._tail(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        pass


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
                return Verification(index, prev, Problem(line, "truncated", "the last line is torn (no newline)"))
            return Verification(index, prev, Problem(line, "corrupt", f"not a valid event ({exc})"))
        if event_hash(event) != event.hash:
            return Verification(
                index, prev, Problem(line, "edited", f"event {event.seq}'s content does not match its hash")
            )
        if event.seq > expected:
            if expected in seqs[index + 1 :]:
                where = seqs.index(expected, index + 1) + 1
                msg = f"event {expected} is expected here but appears at line {where}"
                return Verification(index, prev, Problem(line, "reordered", msg))
            missing = f"{expected}" if event.seq == expected + 1 else f"{expected}..{event.seq - 1}"
            return Verification(
                index, prev, Problem(line, "deleted", f"event(s) {missing} are missing before this line")
            )
        if event.seq < expected:
            if event.seq in seqs[:index]:
                return Verification(
                    index,
                    prev,
                    Problem(
                        line,
                        "inserted",
                        f"seq {event.seq} appears twice; a line was inserted before this one",
                    ),
                )
            return Verification(index, prev, Problem(line, "reordered", f"event {event.seq} is out of order"))
        if event.prev != prev:
            return Verification(
                index,
                prev,
                Problem(line, "inserted", "the chain breaks here: prev does not match the line before"),
            )
        prev, expected = event.hash, expected + 1
    if not complete:
        return Verification(
            len(lines), prev, Problem(len(lines) + 1, "truncated", "the last line is torn (no newline)")
        )
    return Verification(len(lines), prev, None)


def verify_file(path: Path) -> Verification:
    data = path.read_bytes()
    complete = not data or data.endswith(b"\n")
    lines = data.splitlines()
    if not complete:
        # the torn fragment is reported as its own line
        return _verify_torn(lines)
    return verify_lines(lines)


def _verify_torn(lines: list[bytes]) -> Verification:
    result = verify_lines(lines[:-1])
    if result.problem:
        return result
    return Verification(
        result.count, result.head, Problem(len(lines), "truncated", "the last line is torn (no newline)")
    )


def iter_lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as fh:
        yield from fh
