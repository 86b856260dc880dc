"""The local mirror of the shared record: a verified copy of the chain this cockpit has read.

A JSON Lines file in the rollout's state directory (``pg-mirror.jsonl``), one committed event per line,
appended as this cockpit reads new events from PostgreSQL (after each NOTIFY). Only an event that
continues the copy is appended (``seq`` one more, ``prev`` the last hash, its own hash correct), so the
file is always a verified prefix of the shared chain. With the database down the cockpit's state is the
mirror plus the spool, and a cockpit (or ``cockpit status``) starts from it.

Its modification time is the last contact with the database (:meth:`Mirror.touch`), so an offline
start-up can say how old its picture is.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from cockpit.events import GENESIS, Event, event_hash

TOUCH_EVERY = 5.0
"""Seconds between updates of the last-contact time (the file's mtime) while nothing new arrives."""


class Mirror:
    """The verified local copy of one rollout's committed chain."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._touched = 0.0

    def load(self) -> list[Event]:
        """The verified prefix of the copy (a torn or unverifiable rest is dropped from the file)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        events: list[Event] = []
        good = 0
        prev = GENESIS
        for raw in data.splitlines(keepends=True):
            if not raw.endswith(b"\n"):
                break
            try:
                event = Event.from_dict(json.loads(raw))
            except (ValueError, KeyError, TypeError):
                break
            if event.seq != len(events) + 1 or event.prev != prev or event_hash(event) != event.hash:
                break
            events.append(event)
            prev = event.hash
            good += len(raw)
        if good < len(data):
            self._truncate(good)
        return events

    def _truncate(self, size: int) -> None:
        try:
            with self.path.open("r+b") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                fh.truncate(size)
        except OSError:
            pass

    def extend(self, events: Iterable[Event]) -> None:
        """Append the events that continue the copy (under a lock: cockpits may share a state dir)."""
        new = list(events)
        if not new:
            self.touch()
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
        except OSError:
            return  # the mirror is a convenience: a full disk never fails a read of the shared record
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            seq, prev = _tail(fd)
            lines = []
            for event in new:
                if event.seq != seq + 1 or event.prev != prev:
                    continue  # already there (another cockpit on this host wrote it), or not a continuation
                lines.append(event.to_line() + "\n")
                seq, prev = event.seq, event.hash
            if lines:
                os.write(fd, "".join(lines).encode())
        except OSError:
            pass
        finally:
            os.close(fd)
        self._touched = 0.0
        self.touch()

    def reset(self, events: list[Event]) -> None:
        """Replace the copy (the shared chain is not the one copied: another database, a re-import)."""
        tmp = self.path.with_name(self.path.name + ".new")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text("".join(e.to_line() + "\n" for e in events))
            os.replace(tmp, self.path)
        except OSError:
            pass

    def touch(self) -> None:
        """Note a contact with the database (at most every ``TOUCH_EVERY`` seconds)."""
        now = datetime.now(UTC).timestamp()
        if now - self._touched < TOUCH_EVERY:
            return
        self._touched = now
        try:
            os.utime(self.path)
        except OSError:
            pass

    def last_contact(self) -> datetime | None:
        """When a cockpit on this host last heard from the database (the file's mtime)."""
        try:
            return datetime.fromtimestamp(self.path.stat().st_mtime, UTC)
        except OSError:
            return None


def _tail(fd: int) -> tuple[int, str]:
    size = os.fstat(fd).st_size
    if size == 0:
        return 0, GENESIS
    chunk = 4096
    while True:
        start = max(0, size - chunk)
        data = os.pread(fd, size - start, start)
        body = data[: data.rfind(b"\n")]  # without the last newline, or without a torn fragment
        cut = body.rfind(b"\n")
        if cut >= 0 or start == 0:
            try:
                last = json.loads(body[cut + 1 :])
                return int(last["seq"]), str(last["hash"])
            except (ValueError, KeyError, TypeError):
                return -1, ""  # unreadable: append nothing until load() cuts it back
        chunk *= 4
