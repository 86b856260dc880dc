"""Open one rollout of the fleet as its own cockpit would: its plan file, its store, its history.

The fleet reads published plans, but acting on a rollout (its dashboard, its kill switch) needs what a
cockpit needs: the plan file on this machine (its ``${VAR}``s resolved from this environment, the flag
providers' credentials among them) and the same digest as the plan the rollout runs. Without them the
rollout is refused with the reason, never opened on a guess.
"""

from __future__ import annotations

from pathlib import Path

from cockpit.fleet.watch import Tracked
from cockpit.plan.load import ConfigError, LoadedPlan, load_plan
from cockpit.rollout import Rollout, RolloutError
from cockpit.session import Services
from cockpit.store.backend import open_history, open_store
from cockpit.store.filelog import FileStore
from cockpit.store.history import History, SqliteHistory
from cockpit.store.records import PLAN


def plan_file(t: Tracked) -> LoadedPlan:
    """The rollout's plan, loaded from the file its cockpit published, if it is here and unchanged."""
    if t.plan is None:
        raise RolloutError(f"{t.rollout_id}: the plan is unknown here (no cockpit running it has published it)")
    published = t.records.get(PLAN)
    path = str(published.body.get("path", "")) if published is not None else ""
    if not path or not Path(path).is_file():
        raise RolloutError(
            f"{t.rollout_id}: its plan file {path or '(not published)'} is not on this machine; "
            "open it with 'cockpit --config PLAN' where it is"
        )
    try:
        loaded = load_plan(path, defer_unset=True)  # an unset ${VAR}: what uses it fails, in its dashboard
    except ConfigError as exc:
        raise RolloutError(f"{t.rollout_id}: its plan does not load here: {exc.problems[0]}") from None
    if loaded.plan.digest != t.plan.digest:
        raise RolloutError(
            f"{t.rollout_id}: {path} has changed since the rollout's cockpit published it "
            f"(digest {loaded.plan.digest[:12]}, the rollout runs {t.plan.digest[:12]})"
        )
    return loaded


def open_services(t: Tracked, *, readonly: bool = False) -> Services:
    """The rollout's services (store, history, monitor; the kill switch on first use), as its dashboard has."""
    loaded = plan_file(t)
    if t.file is not None:
        if loaded.plan.rollout.store == "postgres":
            raise RolloutError(f"{t.rollout_id}: the plan keeps its record in PostgreSQL, not in {t.file.log}")
        if not readonly:
            t.file.log.parent.mkdir(parents=True, exist_ok=True)
        rollout = Rollout(loaded, FileStore(t.file.log, readonly=readonly))
        history: History = SqliteHistory(t.file.history)
    else:
        if loaded.plan.rollout.store != "postgres":
            raise RolloutError(f"{t.rollout_id}: the plan found keeps a file log, not the shared record")
        rollout = Rollout(loaded, open_store(loaded, readonly=readonly))
        history = open_history(loaded, readonly=readonly)
    return Services.build(rollout, history, connect=False)


async def close_services(services: Services) -> None:
    """Stop what :func:`open_services` started: its clients, its store's connection, its history."""
    await services.aclose()
    services.history.close()
    services.rollout.store.close()
