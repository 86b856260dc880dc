"""``cockpit fleet``: every rollout the operator can see, one line each, those waiting on a human first.

``--json`` and ``--once`` print the fleet once and exit (0: nobody is waited on; 1: some rollout waits on a
human; 3: part of the fleet could not be read); with neither, the fleet screen opens (the ``fleet`` entry
point of the ``rollout_cockpit.ui`` group, loaded only then).

The rollouts are the file logs under the state directory (``$COCKPIT_STATE_DIR`` or the XDG state
directory), or under each ``--dir`` instead, and every rollout id in the shared PostgreSQL record named
by the environment variable ``--dsn-env`` (default ``COCKPIT_DSN``) or, failing that, by the plan's
``dsn`` when the plan (``--config``, ``$COCKPIT_CONFIG``, ``./cockpit.toml``) uses PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit.cli.common import print_json
from cockpit.cli.exits import EXIT_FAIL, EXIT_OK, EXIT_UNKNOWN, EXIT_USAGE
from cockpit.cli.tui import UI_GROUP, entry_point_value, load_ui, not_a_terminal
from cockpit.identity import current_actor
from cockpit.plan.load import ENV_VAR, find_config, load_plan
from cockpit.store.backend import pg_dsn
from cockpit.store.paths import state_root

if TYPE_CHECKING:
    from cockpit.fleet.watch import Fleet

DSN_ENV = "COCKPIT_DSN"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("fleet", help="every rollout at a glance, one line each, and who each is waiting on")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the fleet as JSON and exit")
    out.add_argument("--once", action="store_true", help="print the fleet as a table and exit")
    p.add_argument(
        "--dir", action="append", default=[], metavar="DIR", help="look for file logs here instead of the state dir"
    )
    p.add_argument(
        "--dsn-env",
        default=None,
        metavar="VAR",
        help=f"environment variable holding the shared PostgreSQL's connection string (default {DSN_ENV})",
    )
    p.set_defaults(func=cmd_fleet)


def fleet_dsn(args: argparse.Namespace) -> str | None:
    """The shared record's connection string: ``$VAR`` of ``--dsn-env``, else the plan's when it uses PostgreSQL."""

    name = args.dsn_env or DSN_ENV
    if os.environ.get(name):
        return os.environ[name]
    if not (getattr(args, "config", None) or os.environ.get(ENV_VAR) or Path("cockpit.toml").exists()):
        return None
    loaded = load_plan(find_config(getattr(args, "config", None)), defer_unset=True)  # a broken plan: exit 2
    return pg_dsn(loaded) if loaded.plan.rollout.store == "postgres" else None


def open_fleet(args: argparse.Namespace, **kw: Any) -> Fleet:
    """The fleet the arguments name (not read yet)."""
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    from cockpit.fleet.watch import Fleet

    dsn = fleet_dsn(args)
    pg = None
    if dsn:
        from cockpit.store.pg_fleet import PgFleet  # lazy: psycopg only with a shared record

        pg = PgFleet(dsn)
    dirs = [Path(d) for d in args.dir] or [state_root()]
    kw.setdefault("user", current_actor().user)
    return Fleet(dirs=dirs, pg=pg, **kw)


def cmd_fleet(args: argparse.Namespace, **kw: Any) -> int:
    """Print the fleet once (``--json``, ``--once``) or open its screen; ``kw`` go to the :class:`Fleet`
    (a test's clock and user)."""
    if args.dsn_env and not os.environ.get(args.dsn_env):  # named, and not set: said, never silently ignored
        print(f"cockpit fleet: --dsn-env {args.dsn_env}: the environment variable is not set", file=sys.stderr)
        return EXIT_USAGE
    for d in args.dir:
        if not Path(d).exists():
            print(f"cockpit fleet: --dir {d}: no such file or directory", file=sys.stderr)
            return EXIT_USAGE
    if not (args.json or args.once):
        return run_screen(args)
    # lazy: the headless table's own imports (the screen has its own)
    from cockpit.fleet.row import row_json
    from cockpit.fleet.text import table

    fleet = open_fleet(args, **kw)
    try:
        fleet.refresh()
        rows = fleet.rows()
    finally:
        fleet.close()
    if args.json:
        print_json({"rollouts": [row_json(row) for row in rows], "error": fleet.error})
    else:
        print(table(rows) if rows else "no rollouts found")
    if fleet.error:
        print(f"cockpit fleet: {fleet.error}", file=sys.stderr)
        return EXIT_UNKNOWN
    return EXIT_FAIL if any(row.needs_human for row in rows) else EXIT_OK


def run_screen(args: argparse.Namespace) -> int:

    why = not_a_terminal()
    if why:
        print(f"cockpit fleet: the fleet screen needs a terminal ({why}); try 'cockpit fleet --once'", file=sys.stderr)
        return EXIT_USAGE
    run = load_ui("fleet") if entry_point_value(UI_GROUP, "fleet") else None
    if run is None:  # an install made before the fleet existed: the dashboard's package has it beside
        dashboard = load_ui("dashboard")
        run = getattr(sys.modules.get(getattr(dashboard, "__module__", ""), None), "run_fleet", None)
    if run is None:
        print("cockpit fleet: no fleet screen is installed (pip install -e . registers it)", file=sys.stderr)
        return EXIT_USAGE
    fleet = open_fleet(args)
    try:
        return int(run(fleet, readonly=bool(getattr(args, "readonly", False))))
    finally:
        fleet.close()
