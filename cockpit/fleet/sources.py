"""Where the fleet's rollouts are: file logs under the state directory (or a ``--dir``), and every rollout id
in a shared PostgreSQL record (:mod:`cockpit.store.pg_fleet`).

A file log is found as ``audit.jsonl`` at most two directories down (the state directory holds one
directory per rollout). Its records are in the ``history.sqlite3`` beside it, read read-only. Whether
either changed is a ``stat`` (size and mtime, the SQLite write-ahead log included): cheap enough to ask
every second for fifty rollouts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from cockpit.events import Event
from cockpit.store.audit import AuditError
from cockpit.store.filelog import FileStore
from cockpit.store.history import read_records
from cockpit.store.records import MAX_BODY, PLAN, Record

LOG_NAME = "audit.jsonl"
HISTORY_NAME = "history.sqlite3"
MAX_LOGS = 1000
"""At most this many file logs are followed (a ``--dir`` of the whole disk stays bounded)."""

Stamp = tuple[int, int]


def find_logs(dirs: Iterable[Path]) -> list[Path]:
    """Every ``audit.jsonl`` in ``dirs`` (a file named directly counts too), at most two levels down; and where
    only a ``history.sqlite3`` is, the log it will have (a cockpit running a rollout with no event yet)."""
    found: dict[Path, None] = {}
    for base in dirs:
        if base.is_file():
            found[base] = None
            continue
        for depth in ("", "*/", "*/*/"):
            try:
                for path in sorted(base.glob(depth + LOG_NAME)):
                    if path.is_file():
                        found[path] = None
                for path in sorted(base.glob(depth + HISTORY_NAME)):
                    found.setdefault(path.with_name(LOG_NAME), None)
            except OSError:
                continue
            if len(found) >= MAX_LOGS:
                break
    return list(found)[:MAX_LOGS]


def stamp(path: Path) -> Stamp:
    try:
        st = path.stat()
    except OSError:
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)


class FileRollout:
    """One file log and the history beside it, followed incrementally."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.history = log.parent / HISTORY_NAME
        self.store = FileStore(log, readonly=True)
        self._log_stamp: Stamp | None = None
        self._history_stamp: tuple[Stamp, Stamp] | None = None
        self._plan: Record | None = None
        self._plan_at = -1.0
        self.error = ""
        """Why the log could not be read at the last look ("" when it could): said on the rollout's line."""

    @property
    def name(self) -> str:
        """The rollout id until the plan says otherwise: the state directory's name."""
        return self.log.parent.name or str(self.log)

    def _history_stamps(self) -> tuple[Stamp, Stamp]:
        return (stamp(self.history), stamp(self.history.with_name(HISTORY_NAME + "-wal")))

    def changed(self, *, history: bool = True) -> bool:
        """Whether the log (or, with ``history``, the history) changed since last read: ``stat``s, nothing read."""
        return stamp(self.log) != self._log_stamp or (history and self._history_stamps() != self._history_stamp)

    def new_events(self, after: int) -> list[Event] | None:
        """Events after ``after`` if the log changed since the last look, else None."""
        now = stamp(self.log)
        if now == self._log_stamp:
            return None
        self._log_stamp = now
        return self._read(after)

    def reread(self) -> list[Event]:
        """The whole log again (the chain under us changed)."""
        self.store = FileStore(self.log, readonly=True)
        return self._read(0)

    def _read(self, after: int) -> list[Event]:
        try:
            events = self.store.read(after)
        except (AuditError, OSError, ValueError) as exc:
            self.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return []
        self.error = ""
        return events

    def new_records(self) -> dict[str, Record] | None:
        """The published records if the history changed since the last look, else None."""
        now = self._history_stamps()
        if now == self._history_stamp:
            return None
        self._history_stamp = now
        if now[0][0] < 0:
            return {}
        known = self._plan
        try:
            db = sqlite3.connect(f"file:{self.history}?mode=ro", uri=True, timeout=0.5)
            try:  # the plan (the big one) is read again only when it was re-published
                rows = db.execute(
                    "SELECT kind, at, CASE WHEN (kind = ? AND at = ?) OR length(body) > ? THEN NULL ELSE body END"
                    " FROM records",
                    (PLAN, self._plan_at if known is not None else -1.0, MAX_BODY),
                ).fetchall()
            finally:
                db.close()
        except sqlite3.Error:  # an older history without the table, or busy: nothing published (yet)
            return {}
        records = read_records([row for row in rows if row[2] is not None])
        if known is not None and PLAN not in records and any(row[0] == PLAN for row in rows):
            records[PLAN] = known
        self._plan = records.get(PLAN)
        self._plan_at = next((float(row[1]) for row in rows if row[0] == PLAN), -1.0)  # as stored, to compare
        return records
