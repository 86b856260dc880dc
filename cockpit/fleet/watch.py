"""The fleet, kept current cheaply: each rollout's state folded incrementally from its new events only.

:meth:`Fleet.refresh` reads what changed: for file logs a ``stat`` says whether to read the log's tail
or the published records; for PostgreSQL the ``LISTEN`` thread marks which rollouts have news
(:meth:`Fleet.heard`), and the published records are re-read on news and every :data:`RECORDS_EVERY`
(their heartbeats are not announced). :meth:`Fleet.rows` folds every rollout into its line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cockpit import events as ev
from cockpit.clock import Clock, SystemClock
from cockpit.events import Event
from cockpit.fleet.row import FleetRow, fold_row, sort_key
from cockpit.fleet.sources import FileRollout, find_logs
from cockpit.plan.build import build_plan
from cockpit.plan.model import Plan
from cockpit.state import RolloutState
from cockpit.store.audit import AuditError, ChainProblem, TornTail, chain_problem, cut_short_message
from cockpit.store.pg_fleet import MAX_EVENTS, PgFleet
from cockpit.store.records import PLAN, Record

RECORDS_EVERY = 5.0
"""Seconds between re-reads of the PostgreSQL records without news (the judgements' heartbeats)."""
RESCAN_EVERY = 5.0
"""Seconds between looks for new file logs in the directories."""


@dataclass
class Tracked:
    """One rollout as the fleet follows it."""

    key: str
    where: str
    name: str
    state: RolloutState = field(default_factory=RolloutState)
    records: dict[str, Record] = field(default_factory=dict)
    plan: Plan | None = None
    last_kill: dict[str, Any] | None = None
    file: FileRollout | None = None
    broken: ChainProblem | None = None
    """Where the record's chain breaks: nothing after it is folded."""

    def fold(self, events: list[Event], reread: Any = None) -> bool:
        """Fold new events in; when the chain under us changed, start again from ``reread()``. Nothing is
        folded past a break in the chain (an edited or spliced record): :attr:`broken` says where."""
        if not events or self.broken is not None:
            return False
        if events[0].prev != self.state.head and reread is not None:
            events, self.state, self.last_kill = reread(), RolloutState(), None
        problem = chain_problem(events, self.state.head, self.state.count)
        if problem is not None:
            self.broken = problem
            events = events[: problem.line - 1 - self.state.count]
        for event in events:
            self.state.apply(event)
            if event.type == ev.KILL_RESULT:
                self.last_kill = dict(event.payload)
        return True

    def take_records(self, records: dict[str, Record], plans: dict[str, Plan | None]) -> None:
        self.records = records
        published = records.get(PLAN)
        if published is None:
            return
        body = published.body
        digest = str(body.get("digest", ""))
        if digest not in plans:
            plans[digest] = _plan(body.get("data"), digest)
        self.plan = plans[digest] or self.plan

    @property
    def rollout_id(self) -> str:
        return self.plan.rollout.id if self.plan is not None else self.name


def _plan(data: Any, digest: str) -> Plan | None:
    """A published plan read back, if it is one and its digest is the one it was published with."""
    if not isinstance(data, dict):
        return None
    try:
        plan, _problems = build_plan(data)
    except Exception:  # data from another machine: anything it holds is refused, nothing raised
        return None
    return plan if plan is not None and plan.digest == digest else None


class Fleet:
    """Every rollout in ``dirs`` (file logs) and in ``pg`` (the shared record), for ``user``."""

    def __init__(
        self, *, dirs: Iterable[Path] = (), pg: PgFleet | None = None, user: str = "", clock: Clock | None = None
    ) -> None:
        self.dirs = list(dirs)
        self.pg = pg
        self.user = user
        self.clock = clock or SystemClock()
        self.tracked: dict[str, Tracked] = {}
        self.error = ""
        """Why part of the fleet could not be read just now ("" when all is well)."""
        self._plans: dict[str, Plan | None] = {}
        self._lock = threading.Lock()
        self._pg_all = True
        self._pg_dirty: set[str] = set()
        self._records_dirty = True
        self._records_read = 0.0
        self._scanned = -RESCAN_EVERY

    # ----------------------------------------------------------------- live

    def files_changed(self, *, history: bool = True) -> bool:
        """Whether a file log (or, with ``history``, a history) changed, or it is time to look for new logs:
        ``stat``s only, cheap enough to ask four times a second on the UI's thread; :meth:`refresh` reads."""
        if time.monotonic() - self._scanned >= RESCAN_EVERY:
            return bool(self.dirs)
        return any(t.file.changed(history=history) for t in self.tracked.values() if t.file is not None)

    def heard(self, channel: str, rollout: str) -> None:
        """A NOTIFY (from :meth:`PgFleet.listen`, in its thread): mark what to read on the next refresh."""
        with self._lock:
            if channel == "cockpit_events" and rollout:
                self._pg_dirty.add(rollout)
            elif channel == "cockpit_records":
                self._records_dirty = True
            else:
                self._pg_all = self._records_dirty = True

    def refresh(self) -> set[str]:
        """Read what changed; return the keys of the rollouts whose line may have changed."""
        changed: set[str] = set()
        errors = []
        changed |= self._refresh_files()
        errors += [  # a record that cannot be believed: part of the fleet is unreadable (exit 3)
            f"{t.where}: audit log {'unreadable' if t.file is not None and t.file.error else 'broken'}"
            for t in self.tracked.values()
            if (t.file is not None and t.file.error) or t.broken is not None
        ]
        if self.pg is not None:
            try:
                changed |= self._refresh_pg()
            except AuditError as exc:
                errors.append(str(exc))
                with self._lock:
                    self._pg_all = True
        self.error = "; ".join(errors)
        return changed

    def _refresh_files(self) -> set[str]:
        now = time.monotonic()
        if now - self._scanned >= RESCAN_EVERY:
            self._scanned = now
            for log in find_logs(self.dirs):
                key = f"file:{log}"
                if key not in self.tracked:
                    file = FileRollout(log)
                    self.tracked[key] = Tracked(key, str(log), file.name, file=file)
        changed = set()
        for key, t in self.tracked.items():
            if t.file is None:
                continue
            events = t.file.new_events(t.state.count)
            if events is not None and t.fold(events, t.file.reread):
                changed.add(key)
            records = t.file.new_records()
            if records is not None and records != t.records:  # the history changed: its samples, mostly
                t.take_records(records, self._plans)
                changed.add(key)
        return changed

    def _refresh_pg(self) -> set[str]:
        assert self.pg is not None
        with self._lock:
            every, self._pg_all = self._pg_all, False
            dirty, self._pg_dirty = self._pg_dirty, set()
            records_due = self._records_dirty or time.monotonic() - self._records_read >= RECORDS_EVERY
            self._records_dirty = False
        changed = set()
        try:
            heads = self.pg.heads() if every or any(f"pg:{r}" not in self.tracked for r in dirty) else {}
            for rollout in set(heads) | dirty:
                key = f"pg:{rollout}"
                t = self.tracked.setdefault(key, Tracked(key, "postgres", rollout))
                if rollout in heads and heads[rollout] == t.state.count and rollout not in dirty:
                    continue
                batch = self.pg.events(rollout, t.state.count)
                if t.fold(batch, lambda r=rollout: self.pg.events(r, 0)):  # type: ignore[union-attr]
                    changed.add(key)
                if len(batch) >= MAX_EVENTS:  # a long chain is read in bounded batches: the rest next time
                    with self._lock:
                        self._pg_dirty.add(rollout)
            if records_due:
                self._records_read = time.monotonic()
                plans = {
                    p.name: p.records[PLAN].at for p in self.tracked.values() if p.file is None and PLAN in p.records
                }
                for rollout, records in self.pg.records(plans).items():
                    key = f"pg:{rollout}"
                    known = self.tracked.setdefault(key, Tracked(key, "postgres", rollout))  # maybe no event yet
                    if PLAN not in records and PLAN in known.records:  # unchanged, not read again
                        records[PLAN] = known.records[PLAN]
                    if records != known.records:
                        known.take_records(records, self._plans)
                        changed.add(key)
        except AuditError:
            with self._lock:  # read it all again next time
                self._pg_all, self._pg_dirty = True, self._pg_dirty | dirty
                self._records_dirty = True
            raise
        return changed

    # ----------------------------------------------------------------- lines

    def row(self, key: str) -> FleetRow:
        t = self.tracked[key]
        torn = t.file.store.torn if t.file is not None else None
        if t.file is not None and t.file.error:
            problem = f"audit log unreadable: {t.file.error}"
        elif t.broken is not None:
            problem = f"audit log broken at event {t.broken.line} ({t.broken.kind}): run 'cockpit audit verify'"
        elif isinstance(torn, TornTail):
            problem = f"audit log torn at line {torn.line}: run 'cockpit audit repair'"
        elif torn is not None:  # cut short before its witnessed head
            problem = f"audit log cut short: {cut_short_message(torn.seq, torn.witnessed)}: run 'cockpit audit verify'"
        else:
            problem = ""
        row = fold_row(
            t.rollout_id, t.where, t.plan, t.state, t.records, self.clock.now(), self.user, t.last_kill, problem
        )
        return replace(row, key=key)

    def rows(self) -> list[FleetRow]:
        """Every rollout's line, those waiting on a human first."""
        return sorted((self.row(key) for key in self.tracked), key=sort_key)

    def close(self) -> None:
        if self.pg is not None:
            self.pg.close()
