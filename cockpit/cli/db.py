"""``cockpit db``: the shared PostgreSQL record: ``init``, ``import FILE``, ``export [-o FILE]``.

Handlers import the PostgreSQL store (psycopg) when they run: no other command pays for it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.cli.common import load
from cockpit.cli.exits import EXIT_FAIL, EXIT_OK, EXIT_USAGE
from cockpit.store.audit import AuditError, ReadOnlyStore, verify_file, verify_lines
from cockpit.store.backend import pg_dsn
from cockpit.store.files import check_output, describe_os_error, write_atomic
from cockpit.store.paths import protected_dirs

if TYPE_CHECKING:
    from cockpit.plan.load import LoadedPlan


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    db = sub.add_parser("db", help="the shared PostgreSQL record: init, import, export")
    dsub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    p = dsub.add_parser("init", help="create or migrate the schema (idempotent); prints the schema version")
    p.set_defaults(func=cmd_init)
    p = dsub.add_parser("import", help="copy a file audit log into PostgreSQL (chain verified; rollout must be empty)")
    p.add_argument("file", metavar="FILE", help="the JSON Lines audit log")
    p.set_defaults(func=cmd_import)
    p = dsub.add_parser("export", help="write the rollout's log from PostgreSQL as JSON Lines (chain verified)")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.set_defaults(func=cmd_export)


def cmd_init(args: argparse.Namespace) -> int:
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    from cockpit.store.pg import init_schema

    if getattr(args, "readonly", False):
        raise ReadOnlyStore()
    version = init_schema(pg_dsn(load(args)))
    print(f"PostgreSQL schema ready: version {version}")
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    from cockpit.store.pg import PgStore, verify_store

    path = Path(args.file)
    if not path.is_file():
        print(f"cockpit: {path}: no such file", file=sys.stderr)
        return EXIT_USAGE
    loaded = load(args)
    result = verify_file(path)
    if not result.ok:
        print(f"cockpit: {path}:{result.problem}; nothing imported", file=sys.stderr)
        return EXIT_FAIL
    lines = path.read_text(encoding="utf-8").splitlines()
    store = PgStore(pg_dsn(loaded), loaded.plan.rollout.id, readonly=bool(getattr(args, "readonly", False)))
    try:
        count = store.import_lines(lines)
        check = verify_store(store)
    finally:
        store.close()
    if not check.ok or check.head != result.head:
        print(f"cockpit: after import the database chain does not verify: {check.problem}", file=sys.stderr)
        return EXIT_FAIL
    print(f"imported {count} events into {loaded.plan.rollout.id}; chain verified, head {check.head[:16]}")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    from cockpit.store.pg import PgStore, stored_lines

    loaded = load(args)
    store = PgStore(pg_dsn(loaded), loaded.plan.rollout.id, readonly=True)
    try:
        lines = stored_lines(store)
    finally:
        store.close()
    check = verify_lines([line.encode() for line in lines])
    if not check.ok:
        print(f"cockpit: the database chain does not verify: {check.problem}", file=sys.stderr)
        return EXIT_FAIL
    text = "".join(line + "\n" for line in lines)
    if not args.output:
        sys.stdout.write(text)
        return EXIT_OK
    out = Path(args.output)
    _write(out, text, loaded, force=args.force)
    written = verify_file(out)
    if not written.ok or written.count != len(lines):
        print(f"cockpit: {out}:{written.problem or 'event count differs'}", file=sys.stderr)
        return EXIT_FAIL
    print(f"exported {written.count} events to {out}; chain verified, head {written.head[:16]}")
    return EXIT_OK


def _write(path: Path, text: str, loaded: LoadedPlan, *, force: bool) -> None:
    """Atomically, never into the state directory, over a non-regular file, or over a file without --force."""

    check_output(path, protected_dirs(loaded), force=force)
    try:
        write_atomic(path, text.encode(), overwrite=force)
    except OSError as exc:
        raise AuditError(f"cannot write {path}: {describe_os_error(exc)}") from None
