"""The PostgreSQL schema of the shared record, its migrations, and connecting to it.

Tables (all keyed by the rollout id, so one database holds many rollouts):

* ``cockpit_schema``: one row per applied migration (``version``, ``applied_at``).
* ``cockpit_events``: the hash chain. ``line`` is the event exactly as the file log writes it (the
  canonical JSON its hash covers); the other columns are for queries. ``(rollout, seq)`` is the key, so
  the chain can never fork even if the append lock were bypassed. ``spooled_from`` keeps the original
  hash of an event that was spooled offline and re-sealed on top of a newer head.
* ``cockpit_samples``: metric history (see :mod:`cockpit.store.pg_history`).
* ``cockpit_records``: what each rollout's cockpits publish for ``cockpit fleet`` (latest judgements, last
  arm check, the plan; :mod:`cockpit.store.records`), one row per rollout and kind.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from cockpit.store.audit import AuditError

CHANNEL = "cockpit_events"
"""NOTIFY channel; the payload is ``{"rollout": id, "seq": n}``."""
RECORDS_CHANNEL = "cockpit_records"
"""NOTIFY channel of a changed published record; the payload is ``{"rollout": id, "kind": kind}``."""
LOCK_CLASS = 7431
"""First key of the advisory locks taken here (the second is ``hashtext(rollout)``, or 0 for migrations)."""
CONNECT_TIMEOUT = 2
"""Seconds; libpq's minimum. An unreachable database must not hold up a kill."""

_LIVENESS: dict[str, int] = {
    "connect_timeout": CONNECT_TIMEOUT,
    "tcp_user_timeout": 5000,  # ms: a partitioned network fails a query in seconds, not TCP's minutes
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 2,
}

MIGRATIONS: tuple[str, ...] = (
    # 1: the chain and the samples
    """
    CREATE TABLE cockpit_events (
        rollout text NOT NULL,
        seq bigint NOT NULL CHECK (seq > 0),
        time timestamptz NOT NULL,
        actor_user text NOT NULL,
        type text NOT NULL,
        prev text NOT NULL,
        hash text NOT NULL,
        line text NOT NULL,
        spooled_from text,
        PRIMARY KEY (rollout, seq)
    );
    CREATE UNIQUE INDEX cockpit_events_hash ON cockpit_events (rollout, hash);
    CREATE TABLE cockpit_samples (
        rollout text NOT NULL,
        metric text NOT NULL,
        at timestamptz NOT NULL,
        num double precision,
        txt text,
        error text NOT NULL DEFAULT ''
    );
    CREATE INDEX cockpit_samples_metric_at ON cockpit_samples (rollout, metric, at);
    """,
    # 2: what the cockpits publish for the fleet view
    """
    CREATE TABLE cockpit_records (
        rollout text NOT NULL,
        kind text NOT NULL,
        at timestamptz NOT NULL,
        body text NOT NULL,
        PRIMARY KEY (rollout, kind)
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class DatabaseUnavailable(AuditError):
    """PostgreSQL cannot be reached (or the connection broke)."""


def safe_message(exc: BaseException, dsn: str = "") -> str:
    """One line about ``exc`` with any password from ``dsn`` removed."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    try:
        password = conninfo_to_dict(dsn).get("password") if dsn else None
    except psycopg.ProgrammingError:
        password = None
    if password:
        text = text.replace(str(password), "***")
    return text


def connect(dsn: str, *, readonly: bool = False, autocommit: bool = False) -> psycopg.Connection[Any]:
    """A connection with a short connect timeout; read-only transactions by default when ``readonly``."""
    options = "-c statement_timeout=10000 -c lock_timeout=5000"
    if readonly:
        options += " -c default_transaction_read_only=on"
    try:
        conninfo = make_conninfo(dsn, options=options, application_name="cockpit", **_LIVENESS)
    except psycopg.ProgrammingError as exc:
        raise AuditError(f"bad PostgreSQL connection string: {safe_message(exc, dsn)}") from None
    try:
        return psycopg.connect(conninfo, autocommit=autocommit)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"PostgreSQL unreachable: {safe_message(exc, dsn)}") from None


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """The highest applied migration, 0 for a database never initialised."""
    row = conn.execute("SELECT to_regclass('cockpit_schema') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return 0
    found = conn.execute("SELECT coalesce(max(version), 0) FROM cockpit_schema").fetchone()
    return int(found[0]) if found else 0


def init_schema(dsn: str) -> int:
    """Create or migrate the schema; idempotent and safe to run from two machines at once.

    Returns the schema version now recorded in ``cockpit_schema``.
    """
    with connect(dsn) as conn:
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (LOCK_CLASS,))
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS cockpit_schema ("
                    " version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                )
                current = schema_version(conn)
                for version in range(current + 1, SCHEMA_VERSION + 1):
                    conn.execute(MIGRATIONS[version - 1])  # type: ignore[arg-type]
                    conn.execute("INSERT INTO cockpit_schema (version) VALUES (%s)", (version,))
                return schema_version(conn)
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(f"PostgreSQL: {safe_message(exc, dsn)}") from None
        except psycopg.Error as exc:
            raise AuditError(f"cannot create the schema: {safe_message(exc, dsn)}") from None
