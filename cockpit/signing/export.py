"""Signed decisions in the sign-off export, and ``cockpit export --verify`` re-checking them.

The export lists every decision with its principal, the key's fingerprint and the verdict on its
signature (a ``signatures`` list; the Markdown section "Signed Decisions"). It is there once a
decision is signed or the plan names an ``allowed_signers`` file, so exports of rollouts that use no
signatures are as they were. ``export --verify`` re-checks each signature in the log and that the
principal and fingerprint the export shows are the log's.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from cockpit.events import Event, format_time
from cockpit.signing.check import is_decision, printable
from cockpit.signing.policy import Signatures

SECTION = "## Signed Decisions"
_ROW = re.compile(r"^\| (\d+) \| [^|]* \| [^|]* \| `?([^|`]*)`? \| `?([^|`]*)`? \| [^|]* \|$")


def signature_rows(signatures: Signatures, events: list[Event]) -> list[dict[str, Any]]:
    """One row per decision; [] when no decision is signed and the plan names no allowed_signers."""
    decisions = [e for e in events if is_decision(e.type, e.payload)]
    if signatures.allowed_signers is None and not any(e.sig is not None for e in decisions):
        return []
    rows = []
    for event in decisions:
        verdict = signatures.verdict(event)
        rows.append(
            {
                "seq": event.seq,
                "type": event.type,
                "user": event.actor.user,
                "host": event.actor.host,
                "at": format_time(event.time)[:19] + "Z",
                "principal": event.sig.principal if event.sig else "",
                "fingerprint": event.sig.fingerprint if event.sig else "",
                "status": verdict.status.value,
                "detail": verdict.message,
            }
        )
    return rows


def markdown(rows: list[dict[str, Any]]) -> list[str]:
    """The "Signed Decisions" section (nothing when there are no rows)."""
    if not rows:
        return []
    out = [
        SECTION,
        "",
        "| Event | Decision | By | Principal | Key | Signature |",
        "|-------|----------|----|-----------|-----|-----------|",
    ]
    for r in rows:
        mark = "🔏 " if r["status"] == "signed" else ""
        out.append(
            f"| {r['seq']} | {_cell(r['type'])} | {_cell(r['user'])}@{_cell(r['host'])} | "
            f"`{_cell(r['principal'])}` | `{_cell(r['fingerprint'])}` | {mark}{_cell(r['status'])} |"
        )
    return out


def exported_signers(path: Path) -> dict[int, tuple[str, str]]:
    """What an export file shows: seq to (principal, fingerprint), for every decision it lists."""
    text = path.read_text(encoding="utf-8", errors="replace")
    suffix = path.suffix.lower()
    if suffix in (".json", ".toml"):
        data = json.loads(text) if suffix == ".json" else tomllib.loads(text)
        return {int(r["seq"]): (str(r["principal"]), str(r["fingerprint"])) for r in data.get("signatures", [])}
    shown: dict[int, tuple[str, str]] = {}
    inside = False
    for line in text.splitlines():
        if line.startswith("## "):
            inside = line.strip() == SECTION
        elif inside and (match := _ROW.match(line.strip())):
            shown[int(match[1])] = (match[2].strip(), match[3].strip())
    return shown


def recheck(signatures: Signatures, events: list[Event], shown: dict[int, tuple[str, str]]) -> list[str]:
    """Problems ``export --verify`` reports: a decision whose signature fails now, or whose principal or
    fingerprint the export shows differently (or not at all)."""
    problems = []
    required = signatures.required
    for event in events:
        if not is_decision(event.type, event.payload):
            continue
        verdict = signatures.verdict(event)
        bad = verdict.status.value in ("bad signature", "not allowed") or (required and not verdict.counts)
        if bad:
            problems.append(f"event {event.seq} ({event.type}): {verdict.status.value}: {verdict.message}")
        if event.sig is None and event.seq not in shown:
            continue
        logged = (event.sig.principal, event.sig.fingerprint) if event.sig else ("", "")
        if shown.get(event.seq) != logged:
            said = shown.get(event.seq)
            what = f"{said[0] or 'unsigned'} {said[1]}".strip() if said else "nothing"
            problems.append(
                f"event {event.seq} ({event.type}): the export shows {what}, "
                f"the log has {logged[0] or 'unsigned'} {logged[1]}".rstrip()
            )
    return problems


def _cell(text: Any) -> str:
    """Safe in a Markdown table cell: no pipes, backticks, newlines or control characters."""
    return printable(str(text), 200).replace("|", "\\|").replace("`", "'")
