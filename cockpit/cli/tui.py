"""``cockpit`` with no subcommand opens the dashboard; ``cockpit demo`` runs the guided demo.

Textual and the screens are imported inside the functions, so the headless commands never load them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cockpit.cli.common import load

if TYPE_CHECKING:
    from cockpit.clock import Clock

UI_GROUP = "rollout_cockpit.ui"


def entry_point_value(group: str, name: str, path: list[str] | None = None) -> str | None:
    """``module:attr`` of an installed entry point, read from the ``*.dist-info/entry_points.txt`` files on
    ``sys.path`` (what ``importlib.metadata`` reads, without the ~10 ms its import costs the first frame)."""
    for base in sys.path if path is None else path:
        try:
            entries = list(os.scandir(base or "."))
        except OSError:
            continue
        for entry in entries:
            if not entry.name.endswith(".dist-info"):
                continue
            try:
                with open(os.path.join(entry.path, "entry_points.txt"), encoding="utf-8") as f:
                    lines = f.read().splitlines()
            except OSError:
                continue
            section = ""
            for line in lines:
                line = line.strip()
                if line.startswith("[") and line.endswith("]"):
                    section = line[1:-1].strip()
                elif section == group and "=" in line:
                    key, _, value = line.partition("=")
                    if key.strip() == name:
                        return value.strip()
    return None


def load_ui(name: str = "dashboard") -> Callable[..., Any] | None:
    """The UI's ``run`` function, or None if no UI package is installed."""
    value = entry_point_value(UI_GROUP, name)
    if value is None:  # an install layout we do not read ourselves (a zip, an egg): ask importlib
        from importlib.metadata import entry_points

        found = entry_points(group=UI_GROUP, name=name)
        return next(iter(found)).load() if found else None
    module, _, attr = value.partition(":")
    target: Any = importlib.import_module(module.strip())
    for part in attr.strip().split(".") if attr.strip() else []:
        target = getattr(target, part)
    return target  # type: ignore[no-any-return]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", help="the guided demo: a simulator, accelerated time, a throwaway state dir")
    p.add_argument("--speed", type=float, default=1000.0, help="how many times faster time runs (default 1000)")
    p.add_argument("--scenario", default="healthy", help="the simulator's starting scenario")
    p.add_argument("--poll", type=float, default=1.0, metavar="SECONDS", help="real seconds between polls (default 1)")
    p.add_argument("--no-postgres", action="store_true", help="do not start a throwaway PostgreSQL")
    p.add_argument("--no-prometheus", action="store_true", help="do not start a Prometheus")
    p.add_argument("--retention", metavar="DURATION", help="the plan's history_retention (default 14d)")
    p.set_defaults(func=cmd_demo)


def not_a_terminal() -> str:
    """Why the dashboard cannot draw here ("" if it can): it reads keys from standard input and, like
    every Textual app, draws on standard error, so both must be a terminal (standard output need not)."""
    for name, stream in (("standard input", sys.stdin), ("standard error", sys.__stderr__)):
        try:
            if stream is None or not os.isatty(stream.fileno()):
                return f"{name} is not a terminal"
        except (OSError, ValueError):  # closed, or not a real file
            return f"{name} is not a terminal"
    return ""


def run_tui(args: argparse.Namespace, *, clock: Clock | None = None, demo: object | None = None) -> int:
    """Open the dashboard for the configured plan (``--config``/``$COCKPIT_CONFIG``/``./cockpit.toml``).

    The core does not know the UI: the UI package declares itself as the ``dashboard`` entry point of
    the ``rollout_cockpit.ui`` group (see pyproject.toml), and is loaded only when the dashboard opens.
    """

    loaded = load(args)
    why = not_a_terminal()
    if why:
        print(f"cockpit: the dashboard needs a terminal ({why}); try 'cockpit status'", file=sys.stderr)
        return 2
    run = load_ui("dashboard")
    if run is None:
        print("cockpit: no dashboard is installed (pip install -e . registers it)", file=sys.stderr)
        return 2
    return int(run(loaded, readonly=bool(getattr(args, "readonly", False)), clock=clock, demo=demo))


def _exit_cleanly(signum: int, frame: object) -> None:
    """SIGTERM or SIGHUP while the demo starts: stop what it started (undisturbed), then exit."""
    _hold_signals()
    raise SystemExit(128 + signum)


def _hold_signals() -> None:
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)


def cmd_demo(args: argparse.Namespace) -> int:
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    from cockpit.demo import Demo

    if args.speed <= 0 or args.poll <= 0:
        print("cockpit demo: --speed and --poll must be positive", file=sys.stderr)
        return 2
    why = not_a_terminal()  # said before starting PostgreSQL and Prometheus for nothing
    if why:
        print(f"cockpit demo: the demo is a dashboard and needs a terminal ({why})", file=sys.stderr)
        return 2
    for signum in (signal.SIGTERM, signal.SIGHUP):  # while the demo starts or stops: clean up, then exit
        signal.signal(signum, _exit_cleanly)  # (the dashboard handles them itself while it runs)
    with Demo(
        speed=args.speed,
        scenario=args.scenario,
        poll=args.poll,
        postgres=not args.no_postgres,
        prometheus=not args.no_prometheus,
        retention=args.retention,
    ) as demo:
        for line in demo.notices():
            print(f"demo: {line}", file=sys.stderr)
        args.config = str(demo.plan_path)
        code = run_tui(args, clock=demo.clock, demo=demo)
        _hold_signals()  # the dashboard is gone: nothing may cut short the clean-up that follows
        for path in demo.kept:
            print(f"demo: the sign-off is kept at {path}", file=sys.stderr)
        return code
