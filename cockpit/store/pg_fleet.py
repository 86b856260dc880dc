"""Every rollout in a shared PostgreSQL record, for ``cockpit fleet``: one read-only connection for all of
them, and one ``LISTEN`` thread for both channels (new events, changed published records).

A fleet of fifty rollouts must not open fifty connections and fifty listener threads (what fifty
:class:`cockpit.store.pg.PgStore` would do): this reads the tables directly, read-only.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg

from cockpit.events import Event
from cockpit.store.audit import AuditError
from cockpit.store.pg_listen import RECONNECT
from cockpit.store.pg_schema import CHANNEL, RECORDS_CHANNEL, DatabaseUnavailable, connect, safe_message
from cockpit.store.records import MAX_BODY, PLAN, Record, decode

POLL = 1.0
"""Seconds between checks of the stop flag while waiting for notifications (a NOTIFY wakes it at once)."""
MAX_EVENTS = 50_000
"""Events read per rollout and query (a fold catches up over several reads; bounded memory per read)."""


class PgFleet:
    """Read-only access to every rollout of the shared record."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.error = ""
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()
        """Set while LISTEN is in effect."""

    def _rows(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = connect(self.dsn, readonly=True, autocommit=True)
                rows = self._conn.execute(sql, args).fetchall()  # type: ignore[arg-type]
            except psycopg.errors.UndefinedTable:
                raise AuditError("the database has no cockpit schema: run 'cockpit db init'") from None
            except psycopg.Error as exc:
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                self.error = f"PostgreSQL: {safe_message(exc, self.dsn)}"
                raise DatabaseUnavailable(self.error) from None
            except DatabaseUnavailable as exc:
                self.error = str(exc)
                raise
        self.error = ""
        return rows

    def heads(self) -> dict[str, int]:
        """Every rollout id in the record, with its last event's seq."""
        return {str(r): int(s) for r, s in self._rows("SELECT rollout, max(seq) FROM cockpit_events GROUP BY rollout")}

    def events(self, rollout: str, after: int) -> list[Event]:
        rows = self._rows(
            "SELECT line FROM cockpit_events WHERE rollout = %s AND seq > %s ORDER BY seq LIMIT %s",
            (rollout, after, MAX_EVENTS),
        )
        return [Event.from_dict(json.loads(row[0])) for row in rows]

    def records(self, plans: dict[str, datetime] | None = None) -> dict[str, dict[str, Record]]:
        """The published records of every rollout: ``{rollout: {kind: record}}``. A plan (the big one) is read
        only when it is not the one ``plans`` (``{rollout: its time}``) already holds."""
        known = plans or {}
        try:
            rows = self._rows(
                "SELECT rollout, kind, at, CASE WHEN kind = %s OR length(body) > %s THEN NULL ELSE body END"
                " FROM cockpit_records",
                (PLAN, MAX_BODY),
            )
        except AuditError as exc:
            if "no cockpit schema" in str(exc):  # a record older than the fleet (schema 1): nothing published
                return {}
            raise
        out: dict[str, dict[str, Record]] = {}
        wanted = [str(r) for r, kind, at, _ in rows if kind == PLAN and known.get(str(r)) != at]
        bodies = dict(
            self._rows(
                "SELECT rollout, body FROM cockpit_records WHERE kind = %s AND rollout = ANY(%s) AND length(body) <= %s",
                (PLAN, wanted, MAX_BODY),
            )
            if wanted
            else []
        )
        for rollout, kind, at, text in rows:
            if kind == PLAN and rollout not in bodies:
                continue  # unchanged (the caller keeps the one it has), or too long to read
            body = decode(bodies[rollout] if kind == PLAN else text)
            if body is not None:
                out.setdefault(str(rollout), {})[str(kind)] = Record(str(kind), at, body)
        return out

    # ----------------------------------------------------------------- live

    def listen(self, callback: Callable[[str, str], None]) -> None:
        """Call ``callback(channel, rollout)`` (in a thread) for each NOTIFY; after a reconnection once with
        ``("", "")``: anything may have changed meanwhile."""
        self._thread = threading.Thread(target=self._run, args=(callback,), name="cockpit-fleet-listen", daemon=True)
        self._thread.start()
        self.connected.wait(5)

    def _run(self, callback: Callable[[str, str], None]) -> None:
        first = True
        while not self._stop.is_set():
            try:
                with connect(self.dsn, readonly=True, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    conn.execute(f"LISTEN {RECORDS_CHANNEL}")
                    self.connected.set()
                    if not first:
                        _call(callback, "", "")
                    first = False
                    while not self._stop.is_set():
                        for notify in conn.notifies(timeout=POLL):
                            _call(callback, notify.channel, _rollout(notify.payload))
            except (AuditError, psycopg.Error):
                self.connected.clear()
                self._stop.wait(RECONNECT)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=POLL * 3)
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _rollout(payload: str) -> str:
    try:
        data = json.loads(payload)
        return str(data["rollout"]) if isinstance(data, dict) else ""
    except (ValueError, KeyError):
        return ""


def _call(callback: Callable[[str, str], None], channel: str, rollout: str) -> None:
    try:
        callback(channel, rollout)
    except Exception:  # a subscriber's bug never stops the listener
        pass
