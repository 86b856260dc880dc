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
from collections.abc import Callable, Sequence

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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "func", None)
    if handler is None:
        from cockpit.cli.tui import run_tui

        handler = run_tui
    try:
        return _run(handler, args)
    finally:
        notify = sys.modules.get("cockpit.notify")  # loaded only when a command attached the plan's webhooks
        if notify is not None:  # the decisions' posts get at most 2 s more; what is left is said and retried
            notify.close_all(2.0, say=lambda line: print(line, file=sys.stderr))


def _run(handler: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    # The errors any handler may raise; imported once parsing is done (--help needs none of them).
    from cockpit.plan.load import ConfigError
    from cockpit.rollout import RolloutError
    from cockpit.store.audit import AuditError

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
