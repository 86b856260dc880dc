"""``cockpit plan import CHECKLIST.md [-o plan.toml] [--report]``: a Markdown checklist as a draft plan.

The draft is checked with the plan's own validation before it is written; a checklist that cannot become
a plan (empty, no steps at all, unreadable) is one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cockpit.cli.exits import EXIT_FAIL, EXIT_OK, EXIT_USAGE
from cockpit.plan.load import ConfigError, find_config, load_plan, parse_plan
from cockpit.store.files import check_output, write_atomic
from cockpit.store.paths import protected_dirs


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    plan = sub.add_parser("plan", help="plan tools: import a Markdown checklist as a draft plan")
    psub = plan.add_subparsers(dest="plan_command", metavar="ACTION", required=True)
    p = psub.add_parser("import", help="read a Markdown rollout checklist, write a draft plan (TOML)")
    p.add_argument("checklist", metavar="CHECKLIST.md", help="the checklist ('-' reads standard input)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the plan to FILE (default: standard output)")
    p.add_argument("--force", action="store_true", help="overwrite FILE even if it is not an earlier imported draft")
    p.add_argument(
        "--report",
        action="store_true",
        help="print each checklist line and the plan key it became (to stderr with no -o)",
    )
    p.set_defaults(func=cmd_plan_import)


def _read(name: str) -> str:
    # the checklist package (markdown-it, tomli-w) is loaded by the handler only: the parsers stay cheap
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    from cockpit.checklist import MAX_BYTES, ChecklistError

    try:
        if name == "-":
            data = sys.stdin.buffer.read(MAX_BYTES + 1)
        else:
            path = Path(name)
            if path.is_dir():
                raise ChecklistError(f"{name}: is a directory, not a checklist")
            with path.open("rb") as fh:
                data = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ChecklistError(f"{name}: no such file") from None
    except PermissionError:
        raise ChecklistError(f"{name}: permission denied") from None
    except OSError as exc:
        raise ChecklistError(f"{name}: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise ChecklistError(f"{name}: larger than {MAX_BYTES // (1024 * 1024)} MB: not a checklist")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ChecklistError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _is_draft(path: Path) -> bool:
    """A file an earlier import wrote (its first line says so): importing again may replace it."""
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    from cockpit.checklist.write import DRAFT_MARK

    try:
        with path.open("rb") as fh:
            return fh.read(len(DRAFT_MARK.encode())).decode("utf-8", "replace") == DRAFT_MARK
    except OSError:
        return False


def _protected(args: argparse.Namespace) -> list[Path]:
    """Where the draft may not go: every rollout's state directory, and the configured plan's record if one loads."""
    try:
        loaded = load_plan(find_config(args.config), defer_unset=True)
    except ConfigError:
        return protected_dirs()
    return protected_dirs(loaded)


def cmd_plan_import(args: argparse.Namespace) -> int:
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    from cockpit.checklist import ChecklistError, import_checklist

    output = Path(args.output) if args.output else None
    if output is not None and output.exists() and not output.is_symlink() and not args.force and not _is_draft(output):
        print(f"cockpit: {output} exists and is not an imported draft: pass --force to overwrite it", file=sys.stderr)
        return EXIT_USAGE
    if output is not None:  # never onto a record (any rollout's state directory), a link or a device
        check_output(output, _protected(args), force=True)
    name = "<stdin>" if args.checklist == "-" else args.checklist
    try:
        imported = import_checklist(_read(args.checklist), Path(name).name)
    except ChecklistError as exc:
        print(f"cockpit: {exc}", file=sys.stderr)
        return EXIT_USAGE
    target = str(output) if output is not None else "<stdout>"
    try:  # the draft must be a plan `cockpit validate` accepts, whatever the checklist held
        parse_plan(imported.toml, target, environ={}, base=output)
    except ConfigError as exc:
        print(
            f"cockpit: the draft plan of {name} does not validate (an importer bug, please report it):", file=sys.stderr
        )
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_FAIL
    if output is None:
        sys.stdout.write(imported.toml)
    else:
        try:
            write_atomic(output, imported.toml.encode(), overwrite=True)  # replaced whole, or not at all
        except OSError as exc:
            print(f"cockpit: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_FAIL
    if args.report:
        (sys.stdout if output is not None else sys.stderr).write(imported.report(target))
    elif output is not None:
        draft = imported.draft
        unwired = sum(1 for e in draft.metrics.values() if e.todo)
        print(
            f"wrote {output}: {len(draft.stages)} stages, {sum(len(s.items) for s in draft.stages)} items, "
            f"{sum(len(s.thresholds) for s in draft.stages)} thresholds; {unwired} metrics to wire (TODO); "
            f"check it with: cockpit --config {output} validate"
        )
    return EXIT_OK
