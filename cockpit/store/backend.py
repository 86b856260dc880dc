"""Open the record the plan names: the file log and SQLite history, or the shared PostgreSQL record.

``[rollout] store = "file"`` (the default) keeps the audit log (JSON Lines) and the sample history
(SQLite) in the rollout's state directory (:mod:`cockpit.store.paths`); ``store = "postgres"`` keeps
both in the database named by ``dsn = "${VAR}"``, with a local spool for outages. Every caller, the
CLI and the dashboard alike, opens the record through these functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.plan.load import ConfigError, LoadedPlan, Problem
from cockpit.secrets import UnsetVariable
from cockpit.store.audit import EventStore
from cockpit.store.filelog import FileStore
from cockpit.store.history import History, SqliteHistory
from cockpit.store.paths import SHARED_FILE, audit_log_path, history_path, share, state_dir

if TYPE_CHECKING:
    from cockpit.store.pg_link import Link


def pg_dsn(loaded: LoadedPlan) -> str:
    """The PostgreSQL connection string, resolved from its ``${VAR}``; a plan error when it is missing."""
    dsn = loaded.plan.rollout.dsn
    if not dsn:
        problem = 'store = "postgres" needs dsn = "${VAR}" (the connection string)'
        raise ConfigError([Problem(str(loaded.path), 0, "rollout.dsn", problem)])
    try:
        return loaded.env.resolve(dsn)
    except UnsetVariable as exc:  # the record cannot be opened; the flags can still be driven
        why = f"{exc}: the record cannot be opened ('cockpit kill' drives the flags without it)"
        raise ConfigError([Problem(str(loaded.path), 0, "rollout.dsn", why)]) from None


def open_store(loaded: LoadedPlan, *, readonly: bool = False) -> EventStore:
    """The event store the plan names: the file log (default; its head also witnessed in the history
    database) or PostgreSQL. With ``[rollout] group`` the state directory is shared first."""
    share(loaded, create=not readonly)
    if loaded.plan.rollout.store != "postgres":
        mode = SHARED_FILE if loaded.group else 0o640
        return FileStore(audit_log_path(loaded), readonly=readonly, witness_db=history_path(loaded), mode=mode)
    from cockpit.store.pg import PgStore  # lazy: psycopg is loaded only when the plan uses PostgreSQL

    spool = None if readonly else state_dir(loaded) / "pg-spool.jsonl"
    mirror = state_dir(loaded) / "pg-mirror.jsonl"  # the chain as last read: state while the database is down
    witness = None if readonly else pg_witness(loaded)  # the head this host committed: a cut record is caught
    return PgStore(
        pg_dsn(loaded), loaded.plan.rollout.id, readonly=readonly, spool_path=spool, mirror_path=mirror, witness=witness
    )


def pg_witness(loaded: LoadedPlan) -> Path:
    """What the shared record's head witness on this host is named after (``<state>/pg-record.head``)."""
    return state_dir(loaded) / "pg-record"


def open_history(loaded: LoadedPlan, *, readonly: bool = False, link: Link | None = None) -> History:
    """The plan's sample history: SQLite in the state directory, or the shared ``cockpit_samples`` table.

    A read-only PostgreSQL history adds no samples, so a ``--readonly`` viewer sees the writers' polls
    and changes nothing. Its local copy (what it reads while the database is down) is the SQLite history
    for a writer, memory for a read-only viewer. ``link``: the store's (``PgStore.link``), so both notice an
    outage and its end together.
    """
    retention = loaded.plan.defaults.history_retention
    share(loaded, create=not readonly)
    if loaded.plan.rollout.store != "postgres":
        return SqliteHistory(history_path(loaded), retention=retention, readonly=readonly)
    from cockpit.store.pg_history import PgHistory  # lazy: psycopg only when the plan uses PostgreSQL

    local = SqliteHistory(":memory:" if readonly else history_path(loaded), retention=retention)
    return PgHistory(pg_dsn(loaded), loaded.plan.rollout.id, readonly=readonly, retention=retention, local=local, link=link)


def open_record(loaded: LoadedPlan, *, readonly: bool = False) -> tuple[EventStore, History]:
    """The plan's event store and sample history together: on PostgreSQL they share one link, so an
    outage (and its end) is noticed once, by both."""
    if loaded.plan.rollout.store != "postgres":
        return open_store(loaded, readonly=readonly), open_history(loaded, readonly=readonly)
    from cockpit.store.pg import PgStore  # lazy: psycopg is loaded only when the plan uses PostgreSQL

    store = open_store(loaded, readonly=readonly)
    assert isinstance(store, PgStore)
    return store, open_history(loaded, readonly=readonly, link=store.link)
