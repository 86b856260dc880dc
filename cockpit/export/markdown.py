"""The Markdown export: the seed checklist, section by section, filled from the record.

For people: paste it into a ticket. Every line comes from :func:`cockpit.export.model.build_record`'s
dict (plus optional text charts), so the Markdown, TOML and JSON exports say the same thing.
The last lines (``Audit log events:`` / ``Audit log head:``) are what ``cockpit export --verify`` reads.
"""

from __future__ import annotations

from typing import Any

from cockpit.signing.export import markdown as signed_decisions

COUNT_LABEL = "Audit log events:"
HEAD_LABEL = "Audit log head:"


def at(text: str) -> str:
    """``2024-12-12T14:02:00Z`` as ``2024-12-12 14:02 UTC``."""
    return f"{text[:10]} {text[11:16]} UTC" if text else ""


def num(value: Any) -> str:
    if isinstance(value, bool) or value == "":
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def by(row: dict[str, Any]) -> str:
    """``alok@bastion-1, 2024-12-12 09:20 UTC`` or ``pending``."""
    return f"{row['user']}@{row['host']}, {at(row['at'])}" if row["at"] else "pending"


def box(done: bool) -> str:
    return "[x]" if done else "[ ]"


def render_markdown(record: dict[str, Any], charts: dict[str, str] | None = None) -> str:
    charts = charts or {}
    ex = record["export"]
    out = [
        f"# {record['title']}",
        "",
        f"**Service:** {record['service']}  ",
        f"**Version:** {record['version']}  ",
        f"**Date:** {record['date']}  ",
        f"**Status:** {ex['status']} · exported {at(ex['generated_at'])} by {ex['generated_by']}  ",
        f"**Plan digest:** `{ex['plan_digest']}`",
        "",
        "---",
        "",
        "## Pre-Rollout Approvals",
        "",
        "| Approver | Role | Approved | Date | Signed by | Plan digest signed |",
        "|----------|------|----------|------|-----------|--------------------|",
    ]
    for a in record["approvals"]:
        digest = a["digest"][:12] + ("" if a["digest_current"] or not a["digest"] else " (void: plan changed)")
        who = f"{a['user']}@{a['host']}" if a["signed"] else ""
        out.append(
            f"| {a['handle']} | {a['title']} | {'☑' if a['signed'] else '☐'} | {at(a['at'])} | {who} | {digest} |"
        )
    base = record["baseline"]
    out += [
        "",
        "**Baseline:** "
        + (
            f"captured by {by(base)}: " + ", ".join(f"{k} = {num(v['value'])}" for k, v in base["metrics"].items())
            if base["captured"]
            else "not captured yet"
        ),
        "",
        "---",
        "",
    ]
    for stage in record["stages"]:
        out += _stage(stage, charts)
        if stage["id"] == record["stages"][-1]["id"]:
            out += _signoff(record)
        out += ["---", ""]
    out += _tail(record)
    return "\n".join(out).rstrip() + "\n"


def _stage(stage: dict[str, Any], charts: dict[str, str]) -> list[str]:
    out = [f"## {stage['title']}", ""]
    status = f"**Status:** {stage['status']}"
    if stage["entered"]["at"]:
        status += f" · entered {by(stage['entered'])}"
    if stage["completed"]["at"]:
        status += f" · completed {by(stage['completed'])}"
    out += [status + (" · point of no return" if stage["irreversible"] else ""), ""]
    sections: list[str] = []
    for item in stage["items"]:
        if item["section"] not in sections:
            sections.append(item["section"])
    if stage["checks"] and "Verification" not in sections:  # where the seed puts it: after the actions
        after = next((i for i, name in enumerate(sections) if name == "Actions" or "Canary" in name), 0)
        sections.insert(after + 1 if sections else 0, "Verification")
    for section in sections:
        out += [f"### {section}"]
        if section == "Verification":
            out += [_check(c) for c in stage["checks"]]
        out += [f"- {box(i['done'])} {i['text']} — {by(i)}" for i in stage["items"] if i["section"] == section]
        out.append("")
    if stage["thresholds"]:
        out += _thresholds(stage, charts)
    if stage["canary"]:
        out += _canary(stage)
    if stage["backout"]:
        out += ["### Backout Command", "```", stage["backout"], "```", ""]
    if stage["contacts"]:
        out += ["### Who to Call if Issues"] + [f"- **{c['issue']}:** {c['contact']}" for c in stage["contacts"]]
        out.append("")
    return out


def _check(c: dict[str, Any]) -> str:
    if not c["done"]:
        return f"- [ ] {c['text']} — expected {c['expect']} — pending"
    verdict = "ok" if c["ok"] else f"FAILED: {c['detail']}"
    return (
        f"- [x] {c['text']} → {num(c['value'])} at {at(c['at'])} (expected {c['expect']}; {verdict}) — "
        f"{c['user']}@{c['host']}"
    )


def _thresholds(stage: dict[str, Any], charts: dict[str, str]) -> list[str]:
    window = stage["window"]
    span = f"{at(window['start'])} → {at(window['end'])}" if window["start"] else "not started"
    out = [
        "### Metrics Thresholds",
        "",
        f"Soak window: {span}",
        "",
        "| Metric | Threshold | Actual | Min | Max | p50 | p99 | Samples | Breaches |",
        "|--------|-----------|--------|-----|-----|-----|-----|---------|----------|",
    ]
    for t in stage["thresholds"]:
        if t["at_gate"] != "":
            unit = "%" if t["kind"] == "relative" else "/hour" if t["kind"] == "rate" else t["unit"]
            verdict = "ok" if t["ok"] else "NOT MET"
            actual = f"{num(t['at_gate'])}{' ' + unit if unit else ''} at gate {at(t['at_gate_time'])} ({verdict})"
        else:
            actual = "pending"
        out.append(
            f"| {t['label']} | {t['threshold']} | {actual} | {num(t['min'])} | {num(t['max'])} | "
            f"{num(t['p50'])} | {num(t['p99'])} | {t['count']} | {t['breaches']} |"
        )
    out.append("")
    for t in stage["thresholds"]:
        chart = charts.get(f"{stage['id']}/{t['metric']}")
        if chart:
            out += ["```", chart, "```", ""]
    return out


def _canary(stage: dict[str, Any]) -> list[str]:
    out = ["### Canary Steps", ""]
    for step in stage["canary"]:
        what = "Increase to 100%" if step["percent"] == 100 else f"Set to {step['percent']}%"
        out.append(
            f"- {box(step['done'])} {what}: {step['flag']} — {by(step['set'][-1]) if step['set'] else 'pending'}"
        )
        for s in step["set"]:
            reason = f" ({s['reason']})" if s["reason"] else ""
            out.append(f"  - set to {s['percent']}% by {s['user']}@{s['host']} at {at(s['at'])}{reason}")
    out += ["", "### Wait Periods", ""]
    for step in stage["canary"]:
        soak = step["soak"]
        label = soak["label"] or f"Soak {soak['duration']} at {step['percent']}%"
        if soak["status"] == "pending":
            out.append(f"- [ ] {label} — pending")
            continue
        broken = f"broken by breach at {', '.join(at(b) for b in soak['breaks'])}" if soak["broken"] else "unbroken"
        end = at(soak["end"]) if soak["end"] else "running"
        out.append(
            f"- {box(soak['status'] == 'completed')} {label} — {at(soak['start'])} → {end}, "
            f"{soak['actual']} (planned {soak['duration']}), {broken}, {soak['status']}"
        )
    out.append("")
    return out


def _signoff(record: dict[str, Any]) -> list[str]:
    out = ["### Sign-Off", "", "| Role | Name | Date |", "|------|------|------|"]
    for s in record["signoff"]:
        out.append(f"| {s['title']} | {s['user'] + '@' + s['host'] if s['signed'] else ''} | {at(s['at'])} |")
    return [*out, ""]


def _tail(record: dict[str, Any]) -> list[str]:
    out = [
        "## Feature Flags (final state)",
        "",
        "| Flag | State | Percent | Last change | Backout |",
        "|------|-------|---------|-------------|---------|",
    ]
    for f in record["flags"]:
        state = ("on" if f["enabled"] else "off") if f["known"] else "unknown"
        out.append(f"| {f['name']} | {state} | {f['percent']}% | {by(f)} | `{f['backout']}` |")
    out += ["", "## Breaches", ""]
    out += [
        f"- {b['metric']} = {num(b['value'])} ({b['threshold']}) in {b['stage'] or '-'}: opened "
        f"{at(b['opened'])}, {'still open' if b['open'] else 'closed ' + at(b['closed'])}"
        for b in record["breaches"]
    ] or ["- none"]
    out += ["", "## Gate Overrides", ""]
    for o in record["overrides"]:
        out.append(f'- {o["stage"]}: "{o["reason"]}" — {by(o)}')
        out += [f"  - overrode: {b}" for b in o["blockers"]]
    out += [] if record["overrides"] else ["- none"]
    out += ["", "## Kills", ""]
    for k in record["kills"]:
        out.append(f"- {k['reason']}")
        out += [f"  - {at(t['at'])} {t['type']} ({t['user']}@{t['host']}): {t['detail']}" for t in k["timeline"]]
    out += [] if record["kills"] else ["- none"]
    out += ["", "## Incident Response", ""]
    for inc in record["incidents"]:
        closed = f", closed {by(inc['closed'])}" if inc["closed"]["at"] else ", open"
        out.append(f"### Incident {inc['id']}: {inc['reason']} — opened {by(inc['opened'])}{closed}")
        for step in inc["steps"]:
            out.append(f"- **{step['label']}** (by {at(step['due'])}): {'met' if step['met'] else 'NOT met'}")
            for a in step["actions"]:
                late = "" if a["met"] or not a["done"] else " (late)"
                out.append(f"  - {box(a['done'])} {a['action']} — {by(a)}{late}")
        out.append("")
    out += [] if record["incidents"] else ["- none", ""]
    out += ["## Emergency Contacts", "", "| Issue | Contact | Method |", "|-------|---------|--------|"]
    out += [f"| {c['issue']} | {c['contact']} | {c['method']} |" for c in record["contacts"]]
    out += ["", "## Handoff Notes", ""]
    out += [f"- {at(n['at'])} {n['user']}@{n['host']}: {n['text']}" for n in record["notes"]] or ["- none"]
    out += ["", *signed_decisions(record.get("signatures", []))] if record.get("signatures") else []
    audit = record["audit"]
    out += ["", "## Audit", "", f"{COUNT_LABEL} {audit['count']}  ", f"{HEAD_LABEL} `{audit['head']}`"]
    return out
