"""Core subcommands: validate, status, approve, revoke, tick, untick, note, advance, audit.

The plan, the stores and the rollout are imported at the top (every command loads them anyway); what only
one command needs and costs start-up (polling, psycopg) is a commented lazy load in its handler.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit import payloads as pl
from cockpit.cli.common import load, print_json, refuse_if_readonly, rollout_for
from cockpit.cli.signing import add_verify_options, check_log, event_list, optional_plan, register_anchor
from cockpit.events import describe
from cockpit.gates import approval_blockers, backout_warning
from cockpit.plan.lines import KeyLines
from cockpit.plan.load import unwired_warnings
from cockpit.plan.model import format_duration
from cockpit.rollout import RolloutError
from cockpit.signing.policy import describe as describe_signing
from cockpit.store.audit import against_heads, verify_file, verify_lines
from cockpit.store.backend import open_history, open_store, pg_dsn, pg_witness
from cockpit.store.filelog import FileStore
from cockpit.store.paths import audit_log_path, history_path
from cockpit.store.witness import Head, parse_head, read_from_db, read_witness

if TYPE_CHECKING:
    from cockpit.plan.load import LoadedPlan
    from cockpit.rollout import Rollout


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("validate", help="check the plan and print its summary")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("status", help="stage, gates and what blocks them, approvals, soak")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("approve", help="sign an approval role as the real OS user")
    p.add_argument("role")
    p.set_defaults(
        func=lambda a: _act(a, lambda r: r.approve(role_id(r.plan, a.role)), lambda e: f"signed {pl.decode(e, pl.ApprovalSigned).role}")
    )

    p = sub.add_parser("revoke", help="withdraw an approval")
    p.add_argument("role")
    p.set_defaults(
        func=lambda a: _act(
            a, lambda r: r.revoke(role_id(r.plan, a.role)), lambda e: f"revoked {pl.decode(e, pl.ApprovalRevoked).role}"
        )
    )

    p = sub.add_parser("tick", help="tick a checklist item: cockpit tick STAGE ITEM")
    p.add_argument("stage")
    p.add_argument("item")
    p.set_defaults(func=lambda a: _act(a, lambda r: r.tick(a.stage, a.item), f"ticked {a.stage}/{a.item}"))

    p = sub.add_parser("untick", help="untick a checklist item")
    p.add_argument("stage")
    p.add_argument("item")
    p.set_defaults(
        func=lambda a: _act(a, lambda r: r.tick(a.stage, a.item, untick=True), f"unticked {a.stage}/{a.item}")
    )

    p = sub.add_parser("note", help="add a note (handoffs, observations) to the record")
    p.add_argument("text", nargs="+")
    p.set_defaults(func=lambda a: _act(a, lambda r: r.note(" ".join(a.text)), "note added"))

    p = sub.add_parser("advance", help="complete the current stage and enter the next (gate-checked)")
    p.add_argument("--override", metavar="REASON", help="pass a closed gate; the reason is audited")
    p.set_defaults(func=cmd_advance)

    audit = sub.add_parser("audit", help="verify, show or repair the audit log")
    asub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    p = asub.add_parser("verify", help="exit 0 when the hash chain is intact, 1 naming the first bad line")
    p.add_argument("file", nargs="?", help="a log file (default: the plan's)")
    p.add_argument("--head", metavar="SEQ:HASH", help="a head kept elsewhere: the log must reach it, unchanged")
    add_verify_options(p)
    p.set_defaults(func=cmd_audit_verify)
    register_anchor(asub)
    p = asub.add_parser("show", help="print events")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    p.add_argument("--json", action="store_true", help="raw JSON lines")
    p.set_defaults(func=cmd_audit_show)
    p = asub.add_parser("repair", help="set a torn last line aside (audited)")
    p.set_defaults(func=cmd_audit_repair)


def _act(args: argparse.Namespace, action: Any, done: Any) -> int:
    """Run ``action`` on the rollout; ``done``: what to print, or a function of the event recorded."""
    refuse_if_readonly(args)
    rollout = rollout_for(args)
    event = action(rollout)
    signed = f", signed by {event.sig.principal} {event.sig.fingerprint}" if event.sig else ""
    print(f"{done(event) if callable(done) else done} (event {event.seq}, by {event.actor}{signed})")
    if rollout.signatures.warning:
        print(f"cockpit: {rollout.signatures.warning}", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------- validate / status


def cmd_validate(args: argparse.Namespace) -> int:
    loaded = load(args, strict=True)  # every unset ${VAR} is a problem of the plan here
    plan = loaded.plan
    for warning in unwired_warnings(loaded):
        print(warning, file=sys.stderr)
    print(f"{loaded.path}: valid plan")
    print(f"  {plan.rollout.service} · {plan.rollout.version} · rollout id {plan.rollout.id}")
    print(f"  plan digest {plan.digest[:16]}")
    print(f"  approvers: {', '.join(f'{a.title} ({a.handle})' for a in plan.approvers)}")
    for stage in plan.stages:
        extras = []
        if stage.canary:
            extras.append(
                " → ".join(
                    f"{c.percent}%" + (f" soak {format_duration(c.soak)}" if c.soak else "") for c in stage.canary
                )
            )
        if stage.irreversible:
            extras.append("point of no return")
        extra = f" [{'; '.join(extras)}]" if extras else ""
        print(
            f"  {stage.title}: {len(stage.items)} items, {len(stage.checks)} checks, "
            f"{len(stage.thresholds)} thresholds{extra}"
        )
    print(f"  flags: {', '.join(f'{f.name} ({f.provider})' for f in plan.flags)}")
    print(f"  metrics: {len(plan.metrics)} · sources: {len(plan.sources)} · incident steps: {len(plan.incident)}")
    print(f"  audit log: {audit_log_path(loaded) if plan.rollout.store == 'file' else 'postgres'}")
    signing, problem = describe_signing(loaded)
    print(f"  {signing}")
    if problem:
        line = KeyLines(loaded.path.read_text(encoding="utf-8")).find("rollout.allowed_signers")
        print(f"{loaded.path}:{line}: rollout.allowed_signers: {problem}", file=sys.stderr)
        return 2
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    from cockpit.status import status_dict

    rollout = rollout_for(args)
    data = status_dict(rollout)
    if args.json:
        print_json(data)
        return 0
    print_status(rollout, data)
    return 0


def print_status(rollout: Rollout, data: dict[str, Any]) -> None:
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    from cockpit.status import describe_soak_moment

    plan = rollout.plan
    print(f"{plan.rollout.service} · {plan.rollout.version}")
    print(f"stage: {data['stage']['title']}")
    print("approvals:")
    for a in data["approvals"]:
        mark = "✔" if a["valid"] else ("✘ void" if a["signed_by"] else "☐")
        who = f" {a['signed_by']} at {a['signed_at']}" if a["signed_by"] else ""
        print(f"  {mark} {a['title']} ({a['handle']}){who}")
    for soak in data["soaks"]:
        state = "done" if soak["done"] else soak["state"].upper() if soak["state"] != "running" else "running"
        breaks = f", {soak['breaks']} breach(es)" if soak["breaks"] else ""
        print(f"soak {soak['stage']}/{soak['step']}: {soak['elapsed']} / {soak['duration']} {state}{breaks}")
        history = "; ".join(describe_soak_moment(m) for m in soak["history"])
        if history:
            print(f"  {history}")
    baseline = data["baseline"]
    if baseline["partial"]:
        print(f"baseline: PARTIAL — no value for {', '.join(baseline['missing'])} (their relative thresholds read NO DATA)")
    for check in data["checks"]:
        print(f"check {check['stage']}/{check['id']}: {check['line']}")
    for breach in data["breaches"]:
        print(f"BREACH {breach['metric']} = {breach['value']} ({breach['threshold']}) since {breach['since']}")
    if data["warning"]:
        print(f"⚠ {data['warning']}")
    gate = data["gate"]
    if gate["open"]:
        print(f"gate: OPEN — next: {gate['next']}")
    else:
        print(f"gate: CLOSED — to {gate['next']}:")
        for b in gate["blockers"]:
            print(f"  - {b}")
    print(f"audit: {data['audit']['events']} events, head {data['audit']['head'][:16]}")
    if data["audit"]["broken"]:
        print(f"  ✘ {data['audit']['broken']}")
    if data["audit"]["torn"]:
        print(f"AUDIT LOG: {data['audit']['torn']}")
    store = data.get("store", {})
    if store.get("degraded"):
        contact = rollout.store.last_contact  # PostgreSQL: the link's, else the mirror's last contact
        age = f", last contact {contact:%Y-%m-%d %H:%M:%S} UTC" if contact is not None else ""
        print(
            f"store: DEGRADED — database unreachable{age}; shown from the local mirror, "
            f"{store.get('spooled', 0)} event(s) spooled locally"
        )


# --------------------------------------------------------------------------- advance


def cmd_advance(args: argparse.Namespace) -> int:

    refuse_if_readonly(args)  # before the live thresholds are polled
    rollout = rollout_for(args)
    if args.override is not None and not args.override.strip():
        raise RolloutError("--override needs a typed reason")
    rollout.complete_soaks()
    void = approval_blockers(rollout.plan, rollout.state)
    event = rollout.advance(override=args.override, judgements=_live_judgements(rollout))
    stage = rollout.current_stage
    print(f"{'overridden; ' if args.override else ''}now in {stage.title if stage else '?'} (event {event.seq})")
    if void and args.override:
        print("note: approvals were missing or void at the override")
    if warning := backout_warning(rollout.plan, rollout.state):
        print(f"⚠ {warning}")
    return 0


def _live_judgements(rollout: Any) -> list[Any]:
    """Poll the current stage's metrics once: a threshold that is not OK (stale, no data too) blocks."""
    if rollout.current_stage is None or not rollout.current_stage.thresholds:
        return []
    # lazy: polling (asyncio, httpx) only when the stage has live thresholds to judge
    import asyncio

    from cockpit.cli.check import check

    history = open_history(rollout.loaded)
    try:
        return asyncio.run(check(rollout, history, None, False))
    finally:
        history.close()


# --------------------------------------------------------------------------- audit


def _log_path(args: argparse.Namespace) -> Path:

    if getattr(args, "file", None):
        return Path(args.file)
    loaded = load(args)
    if loaded.plan.rollout.store != "file":
        raise RolloutError("the plan's store is postgres: use 'cockpit db export' and verify the file")
    return audit_log_path(loaded)


def cmd_audit_verify(args: argparse.Namespace) -> int:

    heads: list[Head] = []
    if args.head:
        try:
            heads.append(parse_head(args.head))
        except ValueError as exc:
            print(f"cockpit: {exc}", file=sys.stderr)
            return 2
    db = None
    loaded = optional_plan(args) if getattr(args, "file", None) else load(args)
    if not getattr(args, "file", None) and loaded is not None:
        if loaded.plan.rollout.store == "postgres":
            return _verify_postgres(loaded, args, heads)
        db = history_path(loaded)
    path = _log_path(args)
    heads += [h for h in (read_witness(path), read_from_db(db, path) if db else None) if h is not None]
    if not path.exists() and not heads:
        print(f"{path}: no audit log yet (0 events)")
        return check_log(args, [], str(path), loaded) if args.anchor else 0
    result = verify_file(path, heads) if path.exists() else None
    if result is None:
        print(f"{path}: no audit log, but its head was acknowledged: {heads[0].seq} event(s) lost", file=sys.stderr)
        return 1
    if result.ok:
        print(f"{path}: OK, {result.count} events, chain intact, head {result.head[:16]}")
        return check_log(args, event_list(path.read_bytes().splitlines()), str(path), loaded)
    problem = result.problem
    assert problem is not None
    print(f"{path}:{problem.line}: {problem.kind}: {problem.message}", file=sys.stderr)
    print(f"{path}: {result.count} events verified before the problem", file=sys.stderr)
    return 1


def _verify_postgres(loaded: LoadedPlan, args: argparse.Namespace, heads: list[Any]) -> int:
    """Walk the rollout's chain as stored in PostgreSQL (read-only), then compare its end with the head this
    host committed (and ``--head``); exit 0 intact, 1 naming the first bad event or the events lost."""
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    from cockpit.store.pg import PgStore, stored_lines  # lazy: psycopg only for a PostgreSQL record

    store = PgStore(pg_dsn(loaded), loaded.plan.rollout.id, readonly=True)
    try:
        lines = [line.encode() for line in stored_lines(store)]
    finally:
        store.close()
    witnessed = read_witness(pg_witness(loaded))
    result = against_heads(lines, verify_lines(lines), [*heads, *([witnessed] if witnessed else [])])
    where = f"postgres rollout {loaded.plan.rollout.id}"
    if result.ok:
        print(f"{where}: OK, {result.count} events, chain intact, head {result.head[:16]}")
        return check_log(args, event_list(lines), where, loaded)
    problem = result.problem
    assert problem is not None
    print(f"{where}: event {problem.line}: {problem.kind}: {problem.message}"
          f" ({result.count} verified before it)", file=sys.stderr)  # fmt: skip
    return 1


def cmd_audit_show(args: argparse.Namespace) -> int:

    store = open_store(load(args), readonly=True)  # the file log, or the PostgreSQL record
    if args.follow:
        store.subscribe(lambda seq: None)  # PostgreSQL LISTENs: reads then touch the table only when told of news
    last = 0
    try:
        while True:
            events = store.read(last)
            for event in events:
                print(event.to_line() if args.json else describe(event), flush=True)
                last = event.seq
            torn = store.torn
            if torn is not None and not args.follow:
                print(f"cockpit: {torn}", file=sys.stderr)
                return 1
            if not args.follow:
                return 0
            time.sleep(0.5)
    finally:
        store.close()


def cmd_audit_repair(args: argparse.Namespace) -> int:

    refuse_if_readonly(args)
    rollout = rollout_for(args)
    store = rollout.store
    if not isinstance(store, FileStore):
        raise RolloutError("repair applies to the file store")
    aside = store.repair(rollout.actor, rollout.now())
    print("nothing to repair: the last line is complete" if aside is None else f"torn line moved to {aside}")
    return 0


def role_id(plan: Any, given: str) -> str:
    """The approval role ``given`` names: its id, or its id or title in any case with spaces or hyphens
    (``"Dev Lead"``, ``dev lead`` → ``dev-lead``); unknown names pass through for the core to refuse."""

    def key(text: str) -> str:
        return "-".join(text.lower().replace("-", " ").split())

    for approver in plan.approvers:
        if given == approver.role or key(given) in (key(approver.role), key(approver.title)):
            return str(approver.role)
    return given
