"""``cockpit`` with no subcommand opens the dashboard; ``cockpit demo`` runs the guided demo.

Textual and the screens are imported inside the functions, so the headless commands never load them.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from cockpit.clock import Clock


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", help="the guided demo: a simulator, accelerated time, a throwaway state dir")
    p.add_argument("--speed", type=float, default=1000.0, help="how many times faster time runs (default 1000)")
    p.add_argument("--scenario", default="healthy", help="the simulator's starting scenario")
    p.add_argument("--poll", type=float, default=1.0, metavar="SECONDS", help="real seconds between polls (default 1)")
    p.add_argument("--no-postgres", action="store_true", help="do not start a throwaway PostgreSQL")
    p.add_argument("--no-prometheus", action="store_true", help="do not start a Prometheus")
    p.set_defaults(func=cmd_demo)


def run_tui(args: argparse.Namespace, *, clock: Clock | None = None, demo: object | None = None) -> int:
    """Open the dashboard for the configured plan (``--config``/``$COCKPIT_CONFIG``/``./cockpit.toml``).

    The UI lives in ``screens``; it is loaded here by name, only when the dashboard is opened.
    """
    from cockpit.cli_common import load

    loaded = load(args)
    if not sys.stdout.isatty():
        print("cockpit: the dashboard needs a terminal; try 'cockpit status'", file=sys.stderr)
        return 2
    ui = importlib.import_module("screens.main")
    return int(ui.run(loaded, readonly=bool(getattr(args, "readonly", False)), clock=clock, demo=demo))


def cmd_demo(args: argparse.Namespace) -> int:
    from cockpit.demo import Demo

    if args.speed <= 0 or args.poll <= 0:
        print("cockpit demo: --speed and --poll must be positive", file=sys.stderr)
        return 2
    with Demo(
        speed=args.speed,
        scenario=args.scenario,
        poll=args.poll,
        postgres=not args.no_postgres,
        prometheus=not args.no_prometheus,
    ) as demo:
        for line in demo.notices():
            print(f"demo: {line}", file=sys.stderr)
        args.config = str(demo.plan_path)
        return run_tui(args, clock=demo.clock, demo=demo)
