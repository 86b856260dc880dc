"""Whether the shared PostgreSQL answers, as one cockpit sees it: the single place an outage is noticed.

The store and the history of one cockpit share a :class:`Link`. The first failed query or connect marks
it *down* (:meth:`Link.failed`); while down, callers do not try the database at all (the store spools,
the history reads its local copy), so no call on the UI's loop ever waits on a dead database more than
once. A daemon thread probes with a fresh connection every ``probe_every`` seconds; the first success
marks the link *up* again and runs the ``on_up`` callbacks in that thread (the store flushes its spool
there, so the spool empties by itself when the database returns, not on the next command).

Each of them queries through its own :class:`Linked` connection, which follows the link: it is not tried
while the link is down, is opened again after an outage, and a lost connection marks the link down.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg

from cockpit.store.audit import AuditError
from cockpit.store.pg_schema import DatabaseUnavailable, connect, safe_message

log = logging.getLogger(__name__)

T = TypeVar("T")

Conn = psycopg.Connection[Any]

PROBE_EVERY = 0.5
"""Seconds between reconnection probes while the database is down."""


class Link:
    """Up or down, since when, the last error and the last contact (wall-clock time)."""

    def __init__(self, dsn: str, *, readonly: bool = False, probe_every: float = PROBE_EVERY) -> None:
        self.dsn = dsn
        self.readonly = readonly
        self.probe_every = probe_every
        self.error = ""
        """The last database error, one line, without secrets ("" while up)."""
        self.down_since: datetime | None = None
        self.last_contact: datetime | None = None
        """When the database last answered this cockpit (None: not since start-up)."""
        self.generation = 0
        """Counts outages: a connection opened in an earlier generation may be dead (its server restarted)."""
        self.on_up: list[Callable[[], None]] = []
        """Called in the probe thread when the database answers again."""
        self._up = threading.Event()
        self._up.set()  # assumed up until something fails
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._prober: threading.Thread | None = None

    @property
    def up(self) -> bool:
        return self._up.is_set()

    def contact(self) -> None:
        """The database just answered (a forced try, such as ``cockpit db flush``, may answer before the
        probe does: up at once; the probe still runs the ``on_up`` callbacks when it connects)."""
        self.last_contact = datetime.now(UTC)
        if not self._up.is_set():
            with self._lock:
                self.error, self.down_since = "", None
                self._up.set()

    def failed(self, message: str) -> None:
        """A query or connect failed: down until a probe connects (started here, once)."""
        with self._lock:
            self.error = message
            if self._up.is_set():
                self._up.clear()
                self.generation += 1
                self.down_since = datetime.now(UTC)
            if (self._prober is None or not self._prober.is_alive()) and not self._stop.is_set():
                self._prober = threading.Thread(target=self._probe, name="cockpit-pg-probe", daemon=True)
                self._prober.start()

    def wait_up(self, timeout: float) -> bool:
        return self._up.wait(timeout)

    def _probe(self) -> None:
        while not self._stop.wait(self.probe_every):
            try:
                connect(self.dsn, readonly=self.readonly, autocommit=True).close()
            except AuditError as exc:
                self.error = str(exc)
                continue
            self.contact()
            for callback in list(self.on_up):
                try:
                    callback()
                except Exception:  # a failed flush is retried by the next append or read
                    log.warning("after reconnecting: %s failed", getattr(callback, "__name__", callback), exc_info=True)
            return

    def close(self) -> None:
        self._stop.set()
        prober = self._prober
        if prober is not None and prober.is_alive() and prober is not threading.current_thread():
            prober.join(timeout=self.probe_every * 4)


class Linked:
    """One connection to the shared database that follows a :class:`Link`.

    Not tried while the link is down (:class:`DatabaseUnavailable` at once, unless ``force``); opened again
    when an outage came in between (its server may have restarted); a lost connection marks the link down,
    and every answer counts as contact. Errors are one line, prefixed with ``what``, without the password.
    Not locked: its owner serialises its calls.
    """

    def __init__(self, link: Link, dsn: str, *, what: str = "PostgreSQL") -> None:
        self.link = link
        self.dsn = dsn
        self.what = what
        self._conn: Conn | None = None
        self._generation = 0

    def connection(self, *, force: bool = False) -> Conn:
        if not self.link.up and not force:
            raise DatabaseUnavailable(self.link.error or "PostgreSQL unreachable")
        if self._conn is not None and not self._conn.closed and self._generation == self.link.generation:
            return self._conn
        self.close()  # opened before an outage: its server may be gone
        try:
            self._generation = self.link.generation
            self._conn = connect(self.dsn, readonly=self.link.readonly, autocommit=True)
        except DatabaseUnavailable as exc:
            self.link.failed(str(exc))
            raise
        return self._conn

    def run(self, work: Callable[[Conn], T], *, force: bool = False) -> T:
        """``work`` on the connection: a lost connection becomes :class:`DatabaseUnavailable` (the link goes
        down), any other database error an :class:`AuditError`."""
        conn = self.connection(force=force)
        try:
            result = work(conn)
        except psycopg.errors.UndefinedTable:
            raise AuditError("the database has no cockpit schema: run 'cockpit db init'") from None
        except psycopg.OperationalError as exc:
            message = f"{self.what}: {safe_message(exc, self.dsn)}"
            self.close()
            self.link.failed(message)
            raise DatabaseUnavailable(message) from None
        except psycopg.Error as exc:
            raise AuditError(f"{self.what}: {safe_message(exc, self.dsn)}") from None
        self.link.contact()
        return result

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # closing a connection whose server is gone
                pass


def age(when: datetime | None, now: datetime | None = None) -> float | None:
    """Seconds since ``when`` (None stays None)."""
    if when is None:
        return None
    return max(((now or datetime.now(UTC)) - when).total_seconds(), 0.0)
