"""The ``cockpit_events`` table: every statement the record runs on one rollout's rows, and nothing else.

:class:`~cockpit.store.pg.PgStore` decides when to run them (under which lock, with what it knows of the
chain, spooling while the database is away); this module only says how. The schema is
:mod:`cockpit.store.pg_schema`'s.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg

from cockpit.events import GENESIS, Event
from cockpit.store.pg_schema import CHANNEL, LOCK_CLASS

Conn = psycopg.Connection[Any]

DECIDE = LOCK_CLASS + 1
"""First key of the decision lock (a session lock across cockpits); the appends' lock is ``LOCK_CLASS``."""

_INSERT = (
    "INSERT INTO cockpit_events (rollout, seq, time, actor_user, type, prev, hash, line, spooled_from)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def lock_appends(conn: Conn, rollout: str) -> None:
    """Serialise appends to ``rollout`` across machines until the transaction ends."""
    conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_CLASS, rollout))


def lock_decisions(conn: Conn, rollout: str) -> None:
    """Take the rollout's decision lock for this session (:func:`unlock_decisions` gives it back)."""
    conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (DECIDE, rollout))


def unlock_decisions(conn: Conn, rollout: str) -> None:
    conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (DECIDE, rollout))


def insert(conn: Conn, rollout: str, event: Event, spooled_from: str | None = None) -> None:
    """One sealed event, its line exactly as the file log writes it."""
    conn.execute(
        _INSERT,
        (rollout, event.seq, event.time, event.actor.user, event.type, event.prev, event.hash, event.to_line(),
         spooled_from),
    )  # fmt: skip


def insert_lines(conn: Conn, rollout: str, events: list[Event], lines: list[str]) -> None:
    """A verified chain, each event's line kept byte for byte (an import of a file log)."""
    with conn.cursor() as cur:
        cur.executemany(
            _INSERT,
            [(rollout, e.seq, e.time, e.actor.user, e.type, e.prev, e.hash, line.rstrip("\n"), None)
             for e, line in zip(events, lines, strict=True)],
        )  # fmt: skip


def notify(conn: Conn, rollout: str, seq: int) -> None:
    """Announce ``seq`` to every cockpit that LISTENs (delivered at commit)."""
    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, json.dumps({"rollout": rollout, "seq": seq})))


def events_after(conn: Conn, rollout: str, after: int) -> list[Event]:
    rows = conn.execute(
        "SELECT line FROM cockpit_events WHERE rollout = %s AND seq > %s ORDER BY seq", (rollout, after)
    ).fetchall()
    return [Event.from_dict(json.loads(row[0])) for row in rows]


def hash_at(conn: Conn, rollout: str, seq: int) -> str | None:
    row = conn.execute("SELECT hash FROM cockpit_events WHERE rollout = %s AND seq = %s", (rollout, seq)).fetchone()
    return str(row[0]) if row is not None else None


def known_hashes(conn: Conn, rollout: str, hashes: list[str]) -> set[str]:
    """Which of ``hashes`` are committed already, as themselves or as the offline original of a re-sealed event."""
    rows = conn.execute(
        "SELECT hash, spooled_from FROM cockpit_events WHERE rollout = %s AND (hash = ANY(%s) OR spooled_from = ANY(%s))",
        (rollout, hashes, hashes),
    ).fetchall()
    return {h for row in rows for h in row if h}


def count(conn: Conn, rollout: str) -> int:
    row = conn.execute("SELECT count(*) FROM cockpit_events WHERE rollout = %s", (rollout,)).fetchone()
    return int(row[0]) if row else 0


def head(conn: Conn, rollout: str) -> tuple[int, str]:
    """The last committed (seq, hash); (0, GENESIS) for an empty rollout."""
    row = conn.execute(
        "SELECT seq, hash FROM cockpit_events WHERE rollout = %s ORDER BY seq DESC LIMIT 1", (rollout,)
    ).fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS)


def lines(conn: Conn, rollout: str) -> list[str]:
    """The rollout's events exactly as stored, in ``seq`` order."""
    rows = conn.execute("SELECT line FROM cockpit_events WHERE rollout = %s ORDER BY seq", (rollout,)).fetchall()
    return [str(row[0]) for row in rows]
