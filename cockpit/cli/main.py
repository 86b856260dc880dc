"""The ``cockpit`` command line.

Each module of ``cockpit/cli/`` registers its subcommands with ``register(subparsers)``; handlers
take the parsed arguments and return an exit code from :mod:`cockpit.cli.exits` (the one set).
The command modules are imported by name, so ``cockpit kill`` does not pay for the others' imports. No command but ``cockpit`` itself (the TUI) imports Textual.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from cockpit.cli.exits import EXIT_FAIL, EXIT_OK, EXIT_USAGE
from cockpit.cli.tui import run_tui
from cockpit.plan.load import ConfigError
from cockpit.rollout import RolloutError
from cockpit.store.audit import AuditError
from cockpit.store.files import UnsafeFile, describe_os_error
from cockpit.text import VisibleStream

COMMAND_MODULES = (
    "cockpit.cli.core",
    "cockpit.cli.metrics",
    "cockpit.cli.flags",
    "cockpit.cli.export",
    "cockpit.cli.db",
    "cockpit.cli.plan_import",
    "cockpit.cli.tui",
    "cockpit.cli.fleet",
)

KEY_VAR = "COCKPIT_SIGNING_KEY"
"""``--key FILE`` as the environment carries it (cockpit.signing.keys.KEY_VAR; not imported: --help stays light)."""


class Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit 2 with one line and no traceback (as argparse does)."""


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand's parser. The command modules import their heavy dependencies (the plan model,
    httpx, asyncio, the stores) inside their handlers, so building the parser stays cheap."""
    parser = Parser(prog="cockpit", description="A terminal cockpit for staged feature rollouts.")
    parser.add_argument("--config", "-c", metavar="PATH", help="the plan (default: $COCKPIT_CONFIG, ./cockpit.toml)")
    parser.add_argument("--readonly", action="store_true", help="watch only: offer and accept no change")
    parser.add_argument(
        "--key", metavar="FILE", help="sign decisions with this SSH key (a private key, or a .pub your agent holds); "
        "default: $COCKPIT_SIGNING_KEY, else the SSH agent's key"
    )  # fmt: skip
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


GLOBAL_VALUED = ("--config", "-c", "--key")
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
        if arg.startswith(("--config=", "--key=")) or arg in GLOBAL_FLAGS:
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(hoist_global_options(sys.argv[1:] if argv is None else argv))
    before = os.environ.get(KEY_VAR)
    if args.key:
        os.environ[KEY_VAR] = args.key  # read by cockpit.signing.keys when the first decision is signed, in any command
    try:
        return _main(args)
    finally:
        if args.key:  # main() may run in a longer process (tests, the demo): the key is this command's only
            if before is None:
                os.environ.pop(KEY_VAR, None)
            else:
                os.environ[KEY_VAR] = before
        notify = sys.modules.get("cockpit.notify")  # loaded only when a command attached the plan's webhooks
        if notify is not None:  # the decisions' posts get at most 2 s more; what is left is said and retried
            notify.close_all(2.0, say=lambda line: print(line, file=sys.stderr))


def _main(args: argparse.Namespace) -> int:
    handler = getattr(args, "func", None)
    if handler is None:

        handler = run_tui
    if getattr(handler, "__module__", "") == "cockpit.cli.tui":
        return _run(handler, args)  # the dashboard draws with escape sequences of its own
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = VisibleStream(out), VisibleStream(err)  # type: ignore[assignment]
    try:
        return _run(handler, args)
    finally:
        sys.stdout, sys.stderr = out, err


def _run(handler: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """Run one handler; the errors any handler may raise become one line and an exit code."""

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
    except UnsafeFile as exc:  # a record file that is a link, a device, or an output that would clobber one
        print(f"cockpit: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except PermissionError as exc:  # another operator's files: one line, not a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(
            f"cockpit: {where}{describe_os_error(exc)}: this rollout's files belong to another user; "
            "to share them, set [rollout] group in the plan and be a member of that group",
            file=sys.stderr,
        )
        return EXIT_USAGE


def run() -> None:
    sys.exit(main())
