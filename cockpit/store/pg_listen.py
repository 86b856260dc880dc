"""LISTEN/NOTIFY for the shared record: a dedicated connection in a thread, reconnecting on loss."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import psycopg

from cockpit.store.audit import AuditError
from cockpit.store.pg_schema import CHANNEL, CONNECT_TIMEOUT, connect, safe_message

POLL = 0.25
"""Seconds between checks of the stop flag while waiting for notifications."""
RECONNECT = 1.0
"""Seconds to wait before reconnecting after the connection is lost."""


class NotifyListener:
    """Calls ``callback(seq)`` for every NOTIFY about ``rollout_id`` until :meth:`stop`."""

    def __init__(
        self,
        dsn: str,
        rollout_id: str,
        callback: Callable[[int], None],
        *,
        readonly: bool = False,
        on_lost: Callable[[str], None] | None = None,
    ) -> None:
        self.dsn = dsn
        self.rollout_id = rollout_id
        self.callback = callback
        self.readonly = readonly
        self.on_lost = on_lost
        """Called (in the listener's thread) with the error when an established connection is lost."""
        self.connected = threading.Event()
        """Set while LISTEN is in effect."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"cockpit-listen-{rollout_id}", daemon=True)

    def start(self, wait: float = CONNECT_TIMEOUT + 1) -> None:
        """Start listening; wait up to ``wait`` seconds for LISTEN to be in effect (so nothing is missed)."""
        self._thread.start()
        self.connected.wait(wait)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=POLL * 8)

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                with connect(self.dsn, readonly=self.readonly, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    if not first:
                        self._catch_up(conn)
                    first = False
                    while not self._stop.is_set():
                        for notify in conn.notifies(timeout=POLL):
                            self._deliver(notify.payload)
            except (AuditError, psycopg.Error) as exc:
                was = self.connected.is_set()
                self.connected.clear()
                if was and self.on_lost is not None and not self._stop.is_set():
                    self.on_lost(f"PostgreSQL: LISTEN connection lost: {safe_message(exc, self.dsn)}")
                self._stop.wait(RECONNECT)

    def _catch_up(self, conn: psycopg.Connection[Any]) -> None:
        row = conn.execute(
            "SELECT coalesce(max(seq), 0) FROM cockpit_events WHERE rollout = %s", (self.rollout_id,)
        ).fetchone()
        self._call(int(row[0]) if row else 0)

    def _deliver(self, payload: str) -> None:
        try:
            data = json.loads(payload)
            if data.get("rollout") != self.rollout_id:
                return
            seq = int(data["seq"])
        except (ValueError, KeyError, TypeError, AttributeError):
            return
        self._call(seq)

    def _call(self, seq: int) -> None:
        try:
            self.callback(seq)
        except Exception:  # a subscriber's bug never stops the listener
            pass
