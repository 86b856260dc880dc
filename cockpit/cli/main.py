"""The ``cockpit`` command line.

Each ``cockpit/cli_*.py`` module registers its subcommands with ``register(subparsers)``; handlers
take the parsed arguments and return an exit code. Exit codes: 0 success, 1 the thing checked is not
fine (a gate closed, a chain broken, a flag not verified off), 2 usage or plan errors, 3 a check could
not tell (stale, no data, error). No command but ``cockpit`` itself (the TUI) imports Textual.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMAND_MODULES = (
    "cockpit.cli.core",
    "cockpit.cli.metrics",
    "cockpit.cli.flags",
    "cockpit.cli.export",
    "cockpit.cli.db",
    "cockpit.cli.tui",
)

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_UNKNOWN = 0, 1, 2, 3


class Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit 2 with one line and no traceback (as argparse does)."""


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand's parser. The command modules import their heavy dependencies (the plan model,
    httpx, asyncio, the stores) inside their handlers, so building the parser stays cheap."""
    parser = Parser(prog="cockpit", description="A terminal cockpit for staged feature rollouts.")
    parser.add_argument("--config", "-c", metavar="PATH", help="the plan (default: $COCKPIT_CONFIG, ./cockpit.toml)")
    parser.add_argument("--readonly", action="store_true", help="watch only: offer and accept no change")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


GLOBAL_VALUED = ("--config", "-c")
"""Options of ``cockpit`` itself that take a value; accepted after the subcommand too."""
GLOBAL_FLAGS = ("--readonly",)


def hoist_global_options(argv: Sequence[str]) -> list[str]:
    """``argv`` with ``cockpit``'s own options moved in front of the subcommand, wherever they were typed
    (``cockpit validate --config plan.toml`` as ``cockpit --config plan.toml validate``); nothing after
    ``--`` moves."""
    front: list[str] = []
    rest: list[str] = []
    items = list(argv)
    i = 0
    while i < len(items):
        arg = items[i]
        if arg == "--":
            rest += items[i:]
            break
        if arg in GLOBAL_VALUED and i + 1 < len(items):
            front += items[i : i + 2]
            i += 2
            continue
        if arg.startswith("--config=") or arg in GLOBAL_FLAGS:
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(hoist_global_options(sys.argv[1:] if argv is None else argv))
    # The errors any handler may raise; imported once parsing is done (--help needs none of them).
    from cockpit.plan.load import ConfigError
    from cockpit.rollout import RolloutError
    from cockpit.store.audit import AuditError

    handler = getattr(args, "func", None)
    if handler is None:
        from cockpit.cli.tui import run_tui

        handler = run_tui
    try:
        return int(handler(args) or 0)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_USAGE
    except RolloutError as exc:
        print(f"cockpit: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except AuditError as exc:
        print(f"cockpit: audit log: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print("cockpit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


def run() -> None:
    sys.exit(main())
