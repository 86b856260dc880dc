"""``cockpit export`` (the sign-off record, any time) and ``cockpit sign-off ROLE``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit import payloads as pl
from cockpit.cli.common import load
from cockpit.rollout import Rollout, open_rollout
from cockpit.signing.check import printable
from cockpit.store.audit import ReadOnlyStore
from cockpit.store.backend import open_history
from cockpit.store.filelog import FileStore
from cockpit.store.files import check_output, describe_os_error
from cockpit.store.paths import history_path, protected_dirs
from cockpit.text import visible

if TYPE_CHECKING:
    from cockpit.plan.load import LoadedPlan
    from cockpit.rollout import Rollout
    from cockpit.store.history import History


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("export", help="the filled-in checklist: Markdown, TOML or JSON; --verify an export")
    p.add_argument("--format", "-f", choices=("md", "toml", "json"), help="default: by -o's extension, else md")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE (audited) instead of stdout")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.add_argument("--verify", metavar="FILE", help="check an export against the current audit log")
    p.add_argument("--log", metavar="FILE", help="with --verify: check against this audit log file (a copy)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("sign-off", help="sign the post-rollout Sign-Off table as the real OS user")
    p.add_argument("role")
    p.set_defaults(func=cmd_sign_off)


def _history(loaded: LoadedPlan) -> History | None:

    path = history_path(loaded)
    if loaded.plan.rollout.store == "postgres" or path.is_file():
        return open_history(loaded, readonly=True)  # an export reads the history, never thins or changes it
    return None


def cmd_export(args: argparse.Namespace) -> int:
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    from cockpit.export.render import export_text, format_for, write_export

    if args.verify and (args.output or args.format):
        print("cockpit: export --verify takes no --format or -o", file=sys.stderr)
        return 2
    loaded = load(args)
    if args.verify:
        return _verify(loaded, Path(args.verify), Path(args.log) if args.log else None)
    output = Path(args.output) if args.output else None
    if output is not None:
        if args.readonly:
            raise ReadOnlyStore()  # writing an export is audited: a read-only cockpit exports to stdout
        check_output(output, protected_dirs(loaded), force=args.force)
    rollout = open_rollout(loaded, readonly=bool(args.readonly) or output is None)
    history = _history(loaded)
    fmt = format_for(output, args.format)
    try:
        if output is None:
            sys.stdout.write(visible(export_text(rollout, fmt, history), lines=True))
            return 0
        try:
            event = write_export(rollout, fmt, output, history, force=args.force)
        except OSError as exc:
            print(f"cockpit: cannot write {output}: {describe_os_error(exc)}", file=sys.stderr)
            return 1
        written = pl.decode(event, pl.ExportWritten)
        count, head = written.count, written.head
        print(f"wrote {output} ({fmt}; audit log event {count}, head {head[:12]}…; recorded as event {event.seq})")
        return 0
    finally:
        if history is not None:
            history.close()


def _verify(loaded: LoadedPlan, path: Path, log: Path | None = None) -> int:
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    from cockpit.export.verify import ExportUnreadable, content_difference, first_difference, read_recorded

    try:
        recorded = read_recorded(path)
    except ExportUnreadable as exc:
        print(f"cockpit: {exc}", file=sys.stderr)
        return 2
    if log is not None and not log.is_file():
        print(f"cockpit: --log {log}: no such file", file=sys.stderr)
        return 2
    rollout = Rollout(loaded, FileStore(log, readonly=True)) if log else open_rollout(loaded, readonly=True)
    problem = first_difference(recorded, rollout.store)
    if problem is not None:
        print(f"cockpit: {path}: does not match the audit log: {problem}", file=sys.stderr)
        return 1
    changed = content_difference(recorded, rollout.store.read(0))
    if changed is None:
        print(f"{path}: matches the audit log (event {recorded.count}, head {recorded.head[:12]}…), as written")
    signatures = _recheck_signatures(rollout, path, recorded.count)  # what it shows of each signed decision
    if changed is not None:
        print(f"cockpit: {path}: {changed}", file=sys.stderr)
        return 1
    return signatures


def _recheck_signatures(rollout: Rollout, path: Path, count: int) -> int:
    """The signed decisions up to the exported head: each signature re-checked, and shown as the log has it."""
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    from cockpit.signing.export import exported_signers, recheck

    try:
        shown = exported_signers(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"cockpit: {path}: cannot read its signed decisions ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 2
    events = rollout.store.read(0)[:count]
    problems = recheck(rollout.signatures, events, shown)
    for problem in problems:
        print(printable(f"cockpit: {path}: {problem}", 1000), file=sys.stderr)  # the log's text: escaped
    if shown and not problems:
        print(f"{path}: {len(shown)} decision(s) shown with the principal and key the log has; signatures re-checked")
    return 1 if problems else 0


def cmd_sign_off(args: argparse.Namespace) -> int:

    rollout = open_rollout(load(args), readonly=bool(args.readonly))
    event = rollout.sign_off(args.role)
    signed = f", signed by {event.sig.principal} {event.sig.fingerprint}" if event.sig else ""
    print(f"signed off {args.role} (event {event.seq}, by {event.actor}{signed})")
    if rollout.signatures.warning:
        print(f"cockpit: {rollout.signatures.warning}", file=sys.stderr)
    return 0
