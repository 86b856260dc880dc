"""``cockpit export`` (the sign-off record, any time) and ``cockpit sign-off ROLE``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.cli.common import load

if TYPE_CHECKING:
    from cockpit.plan.load import LoadedPlan
    from cockpit.store.history import History


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("export", help="the filled-in checklist: Markdown, TOML or JSON; --verify an export")
    p.add_argument("--format", "-f", choices=("md", "toml", "json"), help="default: by -o's extension, else md")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE (audited) instead of stdout")
    p.add_argument("--verify", metavar="FILE", help="check an export against the current audit log")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("sign-off", help="sign the post-rollout Sign-Off table as the real OS user")
    p.add_argument("role")
    p.set_defaults(func=cmd_sign_off)


def _history(loaded: LoadedPlan) -> History | None:
    from cockpit.store.backend import open_history
    from cockpit.store.history import SqliteHistory
    from cockpit.store.paths import history_path

    path = history_path(loaded)
    if loaded.plan.rollout.store == "postgres":
        return open_history(loaded, readonly=True)
    return SqliteHistory(path) if path.is_file() else None


def cmd_export(args: argparse.Namespace) -> int:
    from cockpit.export.render import export_text, format_for, write_export
    from cockpit.rollout import open_rollout

    if args.verify and (args.output or args.format):
        print("cockpit: export --verify takes no --format or -o", file=sys.stderr)
        return 2
    loaded = load(args)
    if args.verify:
        return _verify(loaded, Path(args.verify))
    output = Path(args.output) if args.output else None
    if output is not None and not output.parent.is_dir():
        print(f"cockpit: cannot write {output}: no directory {output.parent}", file=sys.stderr)
        return 2
    rollout = open_rollout(loaded, readonly=bool(args.readonly) and output is None)
    history = _history(loaded)
    fmt = format_for(output, args.format)
    try:
        if output is None:
            sys.stdout.write(export_text(rollout, fmt, history))
            return 0
        try:
            event = write_export(rollout, fmt, output, history)
        except OSError as exc:
            print(f"cockpit: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        print(f"wrote {output} ({fmt}; audit log event {event.seq - 1}, head {rollout.state.head[:12]}…)")
        return 0
    finally:
        if history is not None:
            history.close()


def _verify(loaded: LoadedPlan, path: Path) -> int:
    from cockpit.export.verify import ExportUnreadable, first_difference, read_recorded
    from cockpit.rollout import open_rollout

    try:
        recorded = read_recorded(path)
    except ExportUnreadable as exc:
        print(f"cockpit: {exc}", file=sys.stderr)
        return 2
    rollout = open_rollout(loaded, readonly=True)
    problem = first_difference(recorded, rollout.store)
    if problem is not None:
        print(f"cockpit: {path}: does not match the audit log: {problem}", file=sys.stderr)
        return 1
    print(f"{path}: matches the audit log (event {recorded.count}, head {recorded.head[:12]}…)")
    return 0


def cmd_sign_off(args: argparse.Namespace) -> int:
    from cockpit.rollout import open_rollout

    rollout = open_rollout(load(args), readonly=bool(args.readonly))
    event = rollout.sign_off(args.role)
    print(f"signed off {args.role} (event {event.seq}, by {event.actor})")
    return 0
