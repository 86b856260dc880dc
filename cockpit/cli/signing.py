"""The signing side of ``cockpit audit``: ``verify``'s signature and anchor checks, and ``audit anchor``.

``cockpit audit verify [FILE] [--allowed-signers FILE] [--require-signatures] [--anchor FILE|SEQ:HASH]``
checks, once the chain is intact, every decision's signature (naming each event that is unsigned,
signed by a key not allowed for it, or whose signature does not match) and that the log still holds
each anchor. ``cockpit audit anchor`` prints the head, signs it when a key is at hand, appends it to
the anchors file and posts it to the plan's webhooks.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.cli.common import load, rollout_for
from cockpit.events import Event
from cockpit.plan.load import ConfigError, find_config
from cockpit.signing.anchor import AnchorError, append_anchor, make_anchor, parse_anchors
from cockpit.signing.check import printable
from cockpit.signing.policy import allowed_signers_path
from cockpit.store.files import check_output
from cockpit.store.paths import protected_dirs

if TYPE_CHECKING:
    from cockpit.events import Event
    from cockpit.plan.load import LoadedPlan


def add_verify_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--allowed-signers",
        metavar="FILE",
        help="OpenSSH allowed_signers to check signatures against (default: the plan's)",
    )
    p.add_argument(
        "--require-signatures", action="store_true", help="an unsigned decision fails too (default: the plan's setting)"
    )
    p.add_argument(
        "--anchor",
        metavar="FILE|SEQ:HASH",
        action="append",
        default=[],
        help="prove the log still holds this head (repeatable; a file of anchors as 'audit anchor' writes)",
    )


def register_anchor(asub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = asub.add_parser("anchor", help="print the log's head (SEQ:HASH), signed if a key is at hand; post it")
    p.add_argument("-o", "--output", metavar="FILE", help="append the anchor (a JSON line) to FILE as well")
    p.add_argument("--json", action="store_true", help="print the anchor as a JSON line")
    p.add_argument("--no-post", action="store_true", help="do not post it to the plan's webhooks")
    p.set_defaults(func=cmd_audit_anchor)


def optional_plan(args: argparse.Namespace) -> LoadedPlan | None:
    """The plan when one is named or found (``audit verify FILE`` works on a bare log too)."""

    try:
        find_config(getattr(args, "config", None))
    except ConfigError:
        return None
    return load(args)


def check_log(args: argparse.Namespace, events: list[Event], where: str, loaded: LoadedPlan | None) -> int:
    """After the chain: the decisions' signatures and the anchors; print what is wrong, return the exit code."""
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    from cockpit.signing.audit import check_anchors, check_decisions

    allowed = Path(args.allowed_signers) if args.allowed_signers else None
    if allowed is None and loaded is not None:
        allowed = allowed_signers_path(loaded)
    if allowed is not None and not allowed.is_file():
        print(f"cockpit: allowed_signers {allowed}: no such file", file=sys.stderr)
        return 2
    required = bool(args.require_signatures or (loaded is not None and loaded.plan.rollout.require_signatures))
    try:
        anchors = [a for spec in args.anchor for a in parse_anchors(spec)]
    except AnchorError as exc:
        print(f"cockpit: {exc}", file=sys.stderr)
        return 2
    code = 0
    if allowed is not None or required or any(e.sig is not None for e in events):
        report = check_decisions(events, loaded.plan if loaded else None, allowed)
        failing = report.failed(required)
        for finding in report.findings:
            line = printable(f"{where}: {finding}", 1000)  # principals and messages come from the log: hostile
            print(line, file=sys.stderr if finding in failing else sys.stdout)
        if allowed is None:
            print(f"{where}: no allowed_signers (plan rollout.allowed_signers or --allowed-signers): "
                  "signatures checked against their own keys only")  # fmt: skip
        print(f"{where}: {report.summary()}", file=sys.stderr if failing else sys.stdout)
        code = 1 if failing else 0
    problems = check_anchors(events, anchors, allowed)
    for problem in problems:
        print(printable(f"{where}: {problem}", 1000), file=sys.stderr)
    if anchors and not problems:
        print(f"{where}: the log still holds {len(anchors)} anchor(s), up to event {max(a.seq for a in anchors)}")
    return 1 if problems else code


def cmd_audit_anchor(args: argparse.Namespace) -> int:
    rollout = rollout_for(args)
    if args.output:  # before anything is said or kept: never onto a record, a link or a device (appended: may exist)
        check_output(Path(args.output), protected_dirs(rollout.loaded), force=True)
    seq, head = rollout.store.head()
    signatures = rollout.signatures
    anchor = make_anchor(rollout.plan.rollout.id, seq, head, rollout.now(), signatures.any_signer())
    print(anchor.to_line() if args.json else f"{anchor.seq}:{anchor.hash}")
    if anchor.sig is not None:
        print(f"signed by {anchor.sig.principal} ({anchor.sig.fingerprint})", file=sys.stderr)
    else:
        print(f"unsigned: {signatures.keyring.why_none or 'the key could not sign'}", file=sys.stderr)
    if args.output:
        try:
            append_anchor(Path(args.output), anchor)
        except OSError as exc:
            print(f"cockpit: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
            return 1
    if not rollout.store.readonly:
        try:
            append_anchor(signatures.anchors_path, anchor)
        except OSError as exc:
            print(f"cockpit: cannot write {signatures.anchors_path}: {exc.strerror or exc}", file=sys.stderr)
    if not args.no_post:
        return _post(rollout.loaded, f"[{rollout.plan.rollout.id}] anchor {anchor.seq}:{anchor.hash}"
                     + (f" signed by {anchor.sig.principal} ({anchor.sig.fingerprint})" if anchor.sig else ""))  # fmt: skip
    return 0


def _post(loaded: LoadedPlan, text: str) -> int:
    """Post ``text`` to each of the plan's webhooks now (5 s each); a failure is said, secrets redacted."""
    # lazy: this command's own imports (cli/main.py loads every command module to parse)
    import httpx  # only when there is something to post

    env = loaded.env
    failed = 0
    for url in loaded.plan.notify.webhooks:
        try:
            response = httpx.post(env.resolve(url), json={"text": text}, timeout=5.0)
            if response.status_code >= 300:
                raise RuntimeError(f"HTTP {response.status_code}")
        except Exception as exc:
            failed += 1
            why = env.redact(f"{type(exc).__name__}: {exc}")
            print(f"cockpit: webhook {env.redact(url)}: anchor not posted: {why}", file=sys.stderr)
    if loaded.plan.notify.webhooks and not failed:
        print(f"posted to {len(loaded.plan.notify.webhooks)} webhook(s)", file=sys.stderr)
    return 1 if failed else 0


def event_list(lines: list[bytes]) -> list[Event]:
    """Events of an intact chain's raw lines."""

    return [Event.from_dict(json.loads(raw)) for raw in lines]
