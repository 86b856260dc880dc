"""The rollout's record on a shared PostgreSQL: the same hash chain as the file log, for many machines.

* **Appends are serialised across machines**: one transaction takes ``pg_advisory_xact_lock(7431,
  hashtext(rollout))``, reads the head, inserts the sealed event, ``NOTIFY``s and commits; the event is
  returned (acknowledged) only after the commit. ``(rollout, seq)`` is the primary key besides.
* **Live**: :meth:`PgStore.subscribe` ``LISTEN``s on a dedicated connection in a thread and calls back
  with each new ``seq`` of this rollout.
* **Read-only**: ``readonly=True`` refuses writes (:class:`ReadOnlyStore`) and connects with
  ``default_transaction_read_only=on``.
* **Mirror**: every committed event this cockpit reads is appended to a verified local copy
  (:mod:`cockpit.store.mirror`); a cockpit starts from it, and with the database down its state is the
  mirror plus the spool.
* **Outage**: the first failed query marks the cockpit's :class:`~cockpit.store.pg_link.Link` down; until
  a background probe connects again nothing waits on the database. Appends are sealed on top of the last
  head this cockpit knew and written to a local spool (:mod:`cockpit.store.spool`), fsync'ed, in order;
  :attr:`degraded`, :attr:`spooled` and :attr:`last_contact` say so. When the probe connects, the spool
  is flushed at once (in the probe's thread); :meth:`flush` commits them in one transaction: **as-is** when nobody appended meanwhile; otherwise **re-sealed** on
  top of the new head with their original time, actor, type and payload, plus
  ``payload["spooled"] = {"seq", "hash"}`` naming the offline original (also kept in the
  ``spooled_from`` column). Events already committed (a commit whose acknowledgement was lost) are
  recognised by hash and not inserted twice.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from cockpit.events import GENESIS, Actor, Event, Sign, format_time, presigned, seal
from cockpit.store import pg_events as table
from cockpit.store.audit import AuditError, CutShort, ReadOnlyStore, TornTail, Verification, verify_lines
from cockpit.store.mirror import Mirror
from cockpit.store.pg_history import PgHistory
from cockpit.store.pg_link import Conn, Link, Linked
from cockpit.store.pg_listen import NotifyListener
from cockpit.store.pg_schema import DatabaseUnavailable, init_schema
from cockpit.store.spool import Spool
from cockpit.store.witness import Head, write_witness

__all__ = [
    "DatabaseUnavailable",
    "PgHistory",
    "PgStore",
    "init_schema",
    "stored_lines",
    "verify_store",
]

class PgStore:
    """An :class:`~cockpit.store.audit.EventStore` on PostgreSQL, with a local spool for outages."""

    def __init__(
        self,
        dsn: str,
        rollout_id: str,
        *,
        readonly: bool = False,
        spool_path: Path | None = None,
        mirror_path: Path | None = None,
        link: Link | None = None,
        witness: Path | None = None,
    ) -> None:
        self.dsn = dsn
        self.rollout_id = rollout_id
        self.readonly = readonly
        self.witness = witness
        """Where this cockpit keeps the head it committed (``<witness>.head``, on this host): a record cut short
        in the database, or rewritten before it, is then caught by ``cockpit audit verify``."""
        self.torn: TornTail | CutShort | None = None
        """Never set: a PostgreSQL transaction cannot tear (the file log's concern)."""
        self.link = link or Link(dsn, readonly=readonly)
        """Up or down (shared with this cockpit's history): the one place an outage is noticed."""
        self.spool = Spool(spool_path) if spool_path is not None and not readonly else None
        self.mirror = Mirror(mirror_path) if mirror_path is not None else None
        self.db = Linked(self.link, dsn)
        """This store's connection (the listeners open their own)."""
        self._lock = threading.RLock()
        self._events: list[Event] = self.mirror.load() if self.mirror else []
        """The chain as committed, seq 1.. (the mirror, then what the table adds)."""
        self._pending: list[Event] = self.spool.events() if self.spool else []
        self._listeners: list[NotifyListener] = []
        self._heard = 0  # the highest seq a connected listener of ours has announced
        self._synced = False  # the table has been read at least once
        self.link.on_up.append(self._reconnected)

    # ----------------------------------------------------------------- status

    @property
    def degraded(self) -> bool:
        """True while the database is unreachable (a failed query, or LISTEN lost) or events wait in the spool."""
        return bool(self._pending) or not self.link.up

    @property
    def error(self) -> str:
        """The last database error, one line, without secrets ("" when fine)."""
        return self.link.error

    @property
    def reachable(self) -> bool:
        """The database answers now (while DEGRADED and reachable, the spool is being flushed)."""
        return self.link.up

    @property
    def last_contact(self) -> datetime | None:
        """When the database last answered (this process, else the mirror's last contact on this host)."""
        if self.link.last_contact is not None:
            return self.link.last_contact
        return self.mirror.last_contact() if self.mirror else None

    @property
    def spooled(self) -> int:
        """Events waiting in the local spool."""
        return len(self._pending)

    # ----------------------------------------------------------------- writing

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
        if self.readonly:
            raise ReadOnlyStore()
        with self._lock:
            if sign is not None:  # on the head known here, before the advisory lock (reused if still the head)
                seq, prev = self._tail()
                sign = presigned(sign, seq + 1, time, actor, type, payload, prev)
            try:
                if self._pending:
                    self._flush()
                event = self.db.run(lambda conn: self._commit(conn, [(type, payload, actor, time)], guard, sign)[-1])
                self._witness(event)
                return event
            except DatabaseUnavailable:
                if self.spool is None:
                    raise
            if guard is not None:
                guard()  # degraded: checked against what this cockpit knows (the spool is local)
            seq, prev = self._tail()
            event = seal(seq + 1, time, actor, type, payload, prev, sign)
            self.spool.append(event)
            self._pending.append(event)
            return event

    def _witness(self, event: Event) -> None:
        """Keep the committed head on this host too (best effort: the event is durable already)."""
        if self.witness is not None:
            try:
                write_witness(self.witness, Head(event.seq, event.hash, format_time(event.time)))
            except OSError:
                pass

    def _tail(self) -> tuple[int, str]:
        last = self._pending[-1] if self._pending else (self._events[-1] if self._events else None)
        return (last.seq, last.hash) if last else (0, GENESIS)

    def _commit(
        self,
        conn: Conn,
        new: list[tuple[str, dict[str, Any], Actor, datetime]],
        guard: Callable[[], None] | None = None,
        sign: Sign | None = None,
    ) -> list[Event]:
        with conn.transaction():
            table.lock_appends(conn, self.rollout_id)
            fresh = self._fetch(conn, len(self._events))
            if guard is not None:  # under the rollout's lock: it sees every committed event, none can come
                self._events.extend(fresh)
                fresh = []
                guard()
            head = fresh[-1] if fresh else (self._events[-1] if self._events else None)
            seq, prev = (head.seq, head.hash) if head else (0, GENESIS)
            sealed = []
            for type, payload, actor, time in new:
                event = seal(seq + 1, time, actor, type, payload, prev, sign)
                table.insert(conn, self.rollout_id, event)
                sealed.append(event)
                seq, prev = event.seq, event.hash
            table.notify(conn, self.rollout_id, seq)
        self._learn(fresh + sealed)
        return sealed

    def _fetch(self, conn: Conn, after: int) -> list[Event]:
        """Committed events after seq ``after``; the whole chain again if ours (the mirror) is not its prefix."""
        events = table.events_after(conn, self.rollout_id, after)
        if after and after == len(self._events) and not self._synced and not self._continues(conn, events):
            self._events = []  # another database, or the rollout re-imported: start the copy again
            if self.mirror is not None:
                self.mirror.reset([])
            return self._fetch(conn, 0)
        return events

    def _continues(self, conn: Conn, events: list[Event]) -> bool:
        head = self._events[-1]
        if events:
            return events[0].prev == head.hash
        return table.hash_at(conn, self.rollout_id, head.seq) == head.hash

    def _learn(self, events: list[Event]) -> None:
        """Committed events read or written: into the cache and the mirror."""
        self._events.extend(events)
        self._synced = True
        if self.mirror is not None:
            self.mirror.extend(events)

    # ----------------------------------------------------------------- the spool

    def flush(self) -> int:
        """Commit the spooled events now (see the module docstring); return how many were inserted."""
        if self.readonly:
            raise ReadOnlyStore()
        with self._lock:
            return self._flush(force=True)

    def _reconnected(self) -> None:
        """The link is up again (the probe's thread): flush the spool and catch the mirror up at once."""
        with self._lock:
            if self._pending and not self.readonly:
                self._flush()
            self.db.run(lambda conn: self._learn(self._fetch(conn, len(self._events))))

    def _flush(self, *, force: bool = False) -> int:
        if self.spool is None or not self._pending:
            return 0
        inserted: list[int] = []

        def commit(pending: list[Event]) -> None:
            inserted.append(self.db.run(lambda conn: self._commit_spooled(conn, pending), force=force))
            if self._events:
                self._witness(self._events[-1])

        self.spool.take(commit)
        self._pending = []
        return inserted[0] if inserted else 0

    def _commit_spooled(self, conn: Conn, pending: list[Event]) -> int:
        hashes = [e.hash for e in pending]
        with conn.transaction():
            table.lock_appends(conn, self.rollout_id)
            fresh = self._fetch(conn, len(self._events))
            known = table.known_hashes(conn, self.rollout_id, hashes)
            head = fresh[-1] if fresh else (self._events[-1] if self._events else None)
            seq, prev = (head.seq, head.hash) if head else (0, GENESIS)
            done: list[Event] = []
            for event in pending:
                if event.hash in known:
                    continue
                if event.seq == seq + 1 and event.prev == prev:
                    new, origin = event, None
                else:
                    spooled: dict[str, Any] = {"seq": event.seq, "hash": event.hash}
                    if event.sig is not None:  # the signature covers the offline original: kept (cockpit.signing)
                        spooled |= {"prev": event.prev, "sig": event.sig.as_dict()}
                    payload = {**event.payload, "spooled": spooled}
                    new, origin = seal(seq + 1, event.time, event.actor, event.type, payload, prev), event.hash
                table.insert(conn, self.rollout_id, new, origin)
                done.append(new)
                seq, prev = new.seq, new.hash
            if done:
                table.notify(conn, self.rollout_id, seq)
        # events already in the table (an acknowledgement lost in transit) arrive through the refetch
        self._learn(fresh + done)
        return len(done)

    def import_lines(self, lines: list[str]) -> int:
        """Insert a verified chain (file log lines, kept byte for byte) into this rollout, which must be empty."""
        if self.readonly:
            raise ReadOnlyStore()
        events = [Event.from_dict(json.loads(line)) for line in lines]

        def work(conn: Conn) -> int:
            with conn.transaction():
                table.lock_appends(conn, self.rollout_id)
                if there := table.count(conn, self.rollout_id):
                    raise AuditError(f"rollout {self.rollout_id} already has {there} events in the database")
                table.insert_lines(conn, self.rollout_id, events, lines)
                if events:
                    table.notify(conn, self.rollout_id, events[-1].seq)
            return len(events)

        with self._lock:
            count: int = self.db.run(work)
            self._events = []
            if self.mirror is not None:
                self.mirror.reset([])
            return count

    # ----------------------------------------------------------------- reading

    def read(self, after: int = 0) -> list[Event]:
        """Events with ``seq > after``: the table, then (while degraded) the spool."""
        with self._lock:
            if self._quiet():
                return self._events[after:]  # LISTEN is in effect and announced nothing new: no query
            try:
                if self._pending and not self.readonly:
                    self._flush()
                self.db.run(lambda conn: self._learn(self._fetch(conn, len(self._events))))
                self._synced = True
            except DatabaseUnavailable:
                pass  # serve what is known: the committed chain so far, then the spool
            return (self._events + self._pending)[after:]

    def _quiet(self) -> bool:
        """True when the table cannot hold more than we know: LISTEN is live and announced nothing newer."""
        return (
            self._synced
            and not self._pending
            and any(listener.connected.is_set() for listener in self._listeners)
            and self._heard <= len(self._events)
        )

    def head(self) -> tuple[int, str]:
        with self._lock:
            if self._pending:
                return self._tail()
            try:
                return self.db.run(lambda conn: table.head(conn, self.rollout_id))
            except DatabaseUnavailable:
                return self._tail()

    @contextmanager
    def decision_lock(self) -> Iterator[None]:
        """Hold the rollout's decision lock (a session advisory lock) across cockpits; with the database
        unreachable, decide locally (the kill must never wait for the database)."""
        with self._lock:
            try:
                self.db.run(lambda conn: table.lock_decisions(conn, self.rollout_id))
            except DatabaseUnavailable:
                yield
                return
            try:
                yield
            finally:
                try:
                    self.db.run(lambda conn: table.unlock_decisions(conn, self.rollout_id))
                except DatabaseUnavailable:
                    pass  # the connection is gone, and its session lock with it

    def listening(self) -> bool:
        """A LISTEN of this store is in effect."""
        return any(listener.connected.is_set() for listener in self._listeners)

    def subscribe(self, callback: Callable[[int], None]) -> Callable[[], None]:
        """Call ``callback(seq)`` (in a thread) for each new event of this rollout, from any cockpit.

        After a lost connection is re-established it is called once with the current head, so events
        missed meanwhile are picked up. Returns the function that unsubscribes.
        """

        def heard(seq: int) -> None:
            self._heard = max(self._heard, seq)  # before the callback: its read must not be skipped
            callback(seq)

        listener = NotifyListener(self.dsn, self.rollout_id, heard, readonly=self.readonly, on_lost=self.link.failed)
        listener.start()
        self._listeners.append(listener)

        def unsubscribe() -> None:
            listener.stop()
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def close(self) -> None:
        self.link.close()
        for listener in list(self._listeners):
            listener.stop()
        self._listeners.clear()
        with self._lock:
            self.db.close()


def verify_store(store: PgStore) -> Verification:
    """Walk the rollout's chain as stored (the raw lines), as ``cockpit audit verify`` walks a file."""
    return verify_lines([line.encode() for line in stored_lines(store)])


def stored_lines(store: PgStore) -> list[str]:
    """The rollout's events exactly as stored in the table, in ``seq`` order."""
    return store.db.run(lambda conn: table.lines(conn, store.rollout_id))
