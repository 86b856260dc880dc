"""Where a rollout's files live: the XDG state directory by default, overridable in the plan.

``$COCKPIT_STATE_DIR`` (read when called, never at import) moves the default state directory;
the demo and the tests use it for a throwaway directory.

:func:`open_history` opens the sample history where the plan's record lives: SQLite in the state
directory for ``store = "file"``, the shared ``cockpit_samples`` table for ``store = "postgres"``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, cast

from cockpit.plan.load import ConfigError, LoadedPlan, Problem
from cockpit.secrets import UnsetVariable
from cockpit.store.history import History

if TYPE_CHECKING:
    from cockpit.store.pg_link import Link

APP_NAME = "rollout-cockpit"


def state_dir(loaded: LoadedPlan) -> Path:
    """Directory for history, captures and (by default) the audit log of this rollout."""
    rollout = loaded.plan.rollout
    if rollout.state_dir:
        return _relative(loaded, rollout.state_dir)
    if os.environ.get("COCKPIT_STATE_DIR"):
        return Path(os.environ["COCKPIT_STATE_DIR"]) / rollout.id
    import platformdirs

    return Path(platformdirs.user_state_dir(APP_NAME)) / rollout.id


def audit_log_path(loaded: LoadedPlan) -> Path:
    rollout = loaded.plan.rollout
    if rollout.audit_log:
        return _relative(loaded, rollout.audit_log)
    return state_dir(loaded) / "audit.jsonl"


def history_path(loaded: LoadedPlan) -> Path:
    return state_dir(loaded) / "history.sqlite3"


def open_history(loaded: LoadedPlan, *, readonly: bool = False, link: Link | None = None) -> History:
    """The plan's sample history: :class:`History` (SQLite) or, on PostgreSQL, ``PgHistory``.

    ``PgHistory`` has History's methods (duck-typed, hence the cast); a read-only one adds no samples,
    so a ``--readonly`` viewer sees the writers' polls and changes nothing. Its local copy (what it reads
    while the database is down) is the SQLite history for a writer, memory for a read-only viewer.
    ``link``: the store's (``PgStore.link``), so both notice an outage and its end together.
    """
    rollout = loaded.plan.rollout
    if rollout.store != "postgres":
        return History(history_path(loaded), retention=loaded.plan.defaults.history_retention)
    from cockpit.store.pg import PgHistory  # psycopg only when the plan uses PostgreSQL

    if not rollout.dsn:
        raise ConfigError([Problem(str(loaded.path), 0, "rollout.dsn", 'store = "postgres" needs dsn = "${VAR}"')])
    try:
        dsn = loaded.env.resolve(rollout.dsn)
    except UnsetVariable as exc:
        raise ConfigError([Problem(str(loaded.path), 0, "rollout.dsn", str(exc))]) from None
    retention = loaded.plan.defaults.history_retention
    local = History(":memory:" if readonly else history_path(loaded), retention=retention)
    return cast(History, PgHistory(dsn, rollout.id, readonly=readonly, retention=retention, local=local, link=link))


def _relative(loaded: LoadedPlan, text: str) -> Path:
    path = Path(os.path.expanduser(loaded.env.resolve(text)))
    return path if path.is_absolute() else loaded.base_dir / path
