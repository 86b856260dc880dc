"""The local spool: events sealed while the shared database is unreachable, kept in order on disk.

A spool is a JSON Lines file of complete, hash-chained events, one per line. Each append takes an
exclusive ``flock``, writes one line and ``fsync``s it before returning, so an event acknowledged while
PostgreSQL is down survives a crash of the cockpit. The first event's ``prev`` and ``seq - 1`` are the
*base*: the last head this cockpit knew when the database went away. :mod:`cockpit.store.pg` empties
the spool once its events are committed.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from pathlib import Path

from cockpit.events import Event
from cockpit.store.audit import AuditError


class Spool:
    """Events waiting for the database, in order."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def append(self, event: Event) -> None:
        """Write one event and ``fsync`` it; it must continue the spooled chain."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            data = (event.to_line() + "\n").encode()
            if os.write(fd, data) != len(data):
                raise AuditError(f"{self.path}: short write to the spool")
            os.fsync(fd)
        finally:
            os.close(fd)

    def events(self) -> list[Event]:
        """Every spooled event; a torn last line (a crash mid-write, never acknowledged) is ignored."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        events = []
        for number, raw in enumerate(data[:end].splitlines(), start=1):
            try:
                events.append(Event.from_dict(json.loads(raw)))
            except (ValueError, KeyError, TypeError) as exc:
                raise AuditError(f"{self.path}:{number}: unreadable spooled event ({exc})") from None
        return events

    def __len__(self) -> int:
        return len(self.events())

    def take(self, commit: Callable[[list[Event]], None]) -> int:
        """Hand every spooled event to ``commit`` under the spool's lock, then empty the spool.

        ``commit`` raising leaves the spool as it was. Appends from other processes on this host wait
        until the spool is emptied, so none is lost between the read and the truncation.
        """
        if not self.path.exists():
            return 0
        with self.path.open("r+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            events = self.events()
            if not events:
                return 0
            commit(events)
            fh.truncate(0)
            fh.flush()
            os.fsync(fh.fileno())
            return len(events)
