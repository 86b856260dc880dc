"""The Markdown export: the seed checklist, section by section, filled from the record.

For people: paste it into a ticket. Every line comes from :func:`cockpit.export.model.build_record`'s
dict (plus optional text charts), so the Markdown, TOML and JSON exports say the same thing.
The last lines (``Audit log events:`` / ``Audit log head:``) are what ``cockpit export --verify`` reads.
"""

from __future__ import annotations

import re
from typing import Any

from cockpit.signing.export import markdown as signed_decisions
from cockpit.text import visible

COUNT_LABEL = "Audit log events:"
HEAD_LABEL = "Audit log head:"

_SPECIAL = re.compile(r"([\\`|]|<(?=[A-Za-z/!?])|^\[|\](?=[(\[:]))")  # "< 1%" stays: no tag starts "< "
_BREAK = re.compile(r"\r\n|\r|\n|\u2028|\u2029")
_LEADING = re.compile(r"^(?:[ \t]+|[#>+*=~_-]|\d+(?=[.)]))")


def _lead(text: str) -> str:
    """A value that starts a line's content (a list item's text) cannot start a block: a heading, a quote,
    a list, a thematic break, indented code. Its first character is escaped (a space as ``&#32;``)."""

    def escape(m: re.Match[str]) -> str:
        if m[0][0] in " \t":
            return "&#32;"
        return m[0] + "\\" if m[0][0].isdigit() else "\\" + m[0]

    return _LEADING.sub(escape, text, count=1)


def md(value: Any, *, start: bool = False) -> str:
    """Text from the record (a note, a reason, a name, a monitored value) as inline Markdown that stays
    text: it cannot end its line, open a heading, a list item, a checkbox or a table cell, start a code
    span, HTML or a link, or put one of the export's own fields (``Audit log head:``) at a line's start.
    A line break becomes ``<br>``; other control characters are shown as ``\\uXXXX``. ``start``: the
    value begins a list item's text, so its first character cannot start a block either."""
    text = _SPECIAL.sub(r"\\\1", str(value))
    text = _lead(text) if start else text
    return visible(_BREAK.sub("<br>", text))


def plan_md(value: Any, *, cell: bool = False) -> str:
    """Text written in the plan (item texts, titles, labels), which may use inline Markdown as the seed
    checklist does (`code`): kept, but it cannot leave its line, nor (``cell``) its table cell."""
    text = str(value)
    if cell:
        text = re.sub(r"(?<!\\)\|", r"\\|", text)
    return visible(_BREAK.sub("<br>", text))


def code(value: Any) -> str:
    """``value`` as an inline code span that holds whatever backticks it contains (and no line break)."""
    text = visible(_BREAK.sub(" ", str(value))).replace("|", "\\|")
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fenced(text: str) -> list[str]:
    """``text`` as a fenced block whose fence no line of it can close."""
    text = visible(text, lines=True)
    fence = "`" * max(3, max((len(run) + 1 for run in re.findall(r"`{3,}", text)), default=3))
    return [fence, text, fence]


def at(text: str) -> str:
    """``2024-12-12T14:02:00Z`` as ``2024-12-12 14:02 UTC``."""
    return md(f"{text[:10]} {text[11:16]} UTC") if text else ""


def num(value: Any) -> str:
    if isinstance(value, bool) or value == "":
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def by(row: dict[str, Any]) -> str:
    """``alok@bastion-1, 2024-12-12 09:20 UTC`` or ``pending``."""
    return f"{md(row['user'])}@{md(row['host'])}, {at(row['at'])}" if row["at"] else "pending"


def box(done: bool) -> str:
    return "[x]" if done else "[ ]"


def render_markdown(record: dict[str, Any], charts: dict[str, str] | None = None) -> str:
    charts = charts or {}
    ex = record["export"]
    out = [
        f"# {plan_md(record['title'])}",
        "",
        f"**Service:** {plan_md(record['service'])}  ",
        f"**Version:** {plan_md(record['version'])}  ",
        f"**Date:** {plan_md(record['date'])}  ",
        f"**Status:** {md(ex['status'])} · exported {at(ex['generated_at'])} by {md(ex['generated_by'])}  ",
        f"**Plan digest:** {code(ex['plan_digest'])}",
        "",
        "---",
        "",
        "## Pre-Rollout Approvals",
        "",
        "| Approver | Role | Approved | Date | Signed by | Plan digest signed |",
        "|----------|------|----------|------|-----------|--------------------|",
    ]
    for a in record["approvals"]:
        digest = md(a["digest"][:12]) + ("" if a["digest_current"] or not a["digest"] else " (void: plan changed)")
        who = f"{md(a['user'])}@{md(a['host'])}" if a["signed"] else ""
        out.append(
            f"| {plan_md(a['handle'], cell=True)} | {plan_md(a['title'], cell=True)} | {'☑' if a['signed'] else '☐'} | {at(a['at'])} | {who} | {digest} |"
        )
    out += ["", "**Plan versions** (each new plan digest the record saw, `plan.changed`):", ""]
    for v in record["plan_versions"]:
        changed = f": {', '.join(v['changes'])} changed" if v["changes"] else ""
        current = " (this export's plan)" if v["current"] else ""
        out.append(f"- `{v['digest'][:12]}` from {by(v)}{current}{changed}")
    if not record["plan_versions"]:
        out.append("- none recorded")
    base = record["baseline"]
    out += [
        "",
        "**Baseline:** "
        + (
            f"captured by {by(base)}: "
            + ", ".join(f"{md(k)} = {md(num(v['value']))}" for k, v in base["metrics"].items())
            + (f" (PARTIAL: no value for {md(', '.join(base['missing']))})" if base["partial"] else "")
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
    out = [f"## {plan_md(stage['title'])}", ""]
    status = f"**Status:** {md(stage['status'])}"
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
        out += [f"### {plan_md(section)}"]
        if section == "Verification":
            out += [_check(c) for c in stage["checks"]]
        out += [f"- {box(i['done'])} {plan_md(i['text'])} — {by(i)}" for i in stage["items"] if i["section"] == section]
        out.append("")
    if stage["thresholds"]:
        out += _thresholds(stage, charts)
    if stage["canary"]:
        out += _canary(stage)
    if stage["backout"]:
        out += ["### Backout Command", *fenced(stage["backout"]), ""]
    if stage["contacts"]:
        out += ["### Who to Call if Issues"] + [
            f"- **{plan_md(c['issue'], cell=True)}:** {plan_md(c['contact'], cell=True)}" for c in stage["contacts"]
        ]
        out.append("")
    return out


def _check(c: dict[str, Any]) -> str:
    if not c["ran"]:
        return f"- [ ] {plan_md(c['text'])} — expected {plan_md(c['expect'])} — pending"
    result = (
        f"{md(num(c['value']))} at {at(c['at'])} (expected {plan_md(c['expect'])}) — {md(c['user'])}@{md(c['host'])}"
    )
    if c["ok"]:
        return f"- [x] {plan_md(c['text'])} → {result}"
    line = f"- [ ] ✗ FAILED {plan_md(c['text'])} → {result}: {md(c['detail'])}"
    o = c["override"]
    return line + (f'; overridden by {by(o)}: "{md(o["reason"])}"' if o else "; not overridden")


def _thresholds(stage: dict[str, Any], charts: dict[str, str]) -> list[str]:
    window = stage["window"]
    span = f"{at(window['start'])} → {at(window['end'])}" if window["start"] else "not started"
    out = [
        "### Metrics Thresholds",
        "",
        f"Soak window: {span}",
        "",
        "| Metric | Threshold | Unit | Actual | Min | Max | p50 | p99 | Samples | Breaches | Absolute range |",
        "|--------|-----------|------|--------|-----|-----|-----|-----|---------|----------|----------------|",
    ]
    for t in stage["thresholds"]:  # every figure of a row in its one unit; the metric's own range apart
        if t["at_gate"] != "":
            verdict = "ok" if t["ok"] else "NOT MET"
            actual = f"{md(num(t['at_gate']))} at gate {at(t['at_gate_time'])} ({verdict})"
        elif t["no_data"]:
            actual = f"NO DATA ({md(t['no_data'])})"
        else:
            actual = "pending"
        figures = " | ".join(md(num(t[k])) if t[k] != "" else "—" for k in ("min", "max", "p50", "p99"))
        absolute = t["absolute"]
        span = (
            md(f"{num(absolute['min'])} – {num(absolute['max'])} {absolute['unit']}".strip()) if absolute["unit"] else "—"
        )
        out.append(
            f"| {plan_md(t['label'], cell=True)} | {plan_md(t['threshold'], cell=True)} | {md(t['unit']) or '—'} | "
            f"{actual} | {figures} | {md(t['count'])} | {md(t['breaches'])} | {span} |"
        )
    out.append("")
    for t in stage["thresholds"]:
        chart = charts.get(f"{stage['id']}/{t['metric']}")
        if chart:
            out += [*fenced(chart), ""]
    return out


def _canary(stage: dict[str, Any]) -> list[str]:
    out = ["### Canary Steps", ""]
    for step in stage["canary"]:
        what = "Increase to 100%" if step["percent"] == 100 else f"Set to {md(step['percent'])}%"
        out.append(
            f"- {box(step['done'])} {what}: {md(step['flag'])} — {by(step['set'][-1]) if step['set'] else 'pending'}"
        )
        for s in step["set"]:
            reason = f" ({md(s['reason'])})" if s["reason"] else ""
            out.append(f"  - set to {md(s['percent'])}% by {md(s['user'])}@{md(s['host'])} at {at(s['at'])}{reason}")
    out += ["", "### Wait Periods", ""]
    for step in stage["canary"]:
        soak = step["soak"]
        label = plan_md(soak["label"] or f"Soak {soak['duration']} at {step['percent']}%")
        if soak["status"] == "pending":
            out.append(f"- [ ] {label} — pending")
            continue
        end = at(soak["end"]) if soak["end"] else soak["status"]
        out.append(
            f"- {box(soak['status'] == 'completed')} {label} — {at(soak['start'])} → {end}, "
            f"{md(soak['actual'])} (planned {md(soak['duration'])}), {md(soak['status'].upper())}"
        )
        out += [f"  - {_soak_moment(h)}" for h in soak["history"]]
    out.append("")
    return out


_VERDICT = {"on time": "done on time", "late": "done LATE", "pending": "pending", "missed": "MISSED"}
"""An incident deadline's verdict (:func:`cockpit.incident.step_deadline`) as the export says it."""


def _soak_moment(h: dict[str, Any]) -> str:
    """``broken at 2024-12-12 15:40 UTC by dlq_entries = 14.0``: one moment of a soak's history."""
    if h["kind"] == "broken":
        return f"broken at {at(h['at'])} by {md(h['detail'])}"
    if h["kind"] == "stopped":
        return f"stopped {md(h['detail']) or 'by kill'} at {at(h['at'])}"
    return f"{md(h['kind'])} at {at(h['at'])}" + (f" ({md(h['detail'])})" if h["detail"] else "")


def _signoff(record: dict[str, Any]) -> list[str]:
    out = ["### Sign-Off", "", "| Role | Name | Date |", "|------|------|------|"]
    for s in record["signoff"]:
        out.append(
            f"| {plan_md(s['title'], cell=True)} | {md(s['user']) + '@' + md(s['host']) if s['signed'] else ''} | {at(s['at'])} |"
        )
    return [*out, ""]


def _tail(record: dict[str, Any]) -> list[str]:
    out = [
        "## Feature Flags (final state)",
        "",
        "| Flag | State | Percent | Last change | Backout |",
        "|------|-------|---------|-------------|---------|",
    ]
    for f in record["flags"]:
        if f["known"]:
            state, change = ("on" if f["enabled"] else "off"), by(f)
        else:  # the rollout never changed it: as it was when the rollout began
            state, change = "off (unchanged)", "since the rollout began"
        out.append(f"| {md(f['name'])} | {state} | {md(f['percent'])}% | {change} | {code(f['backout'])} |")
    out += ["", "## Breaches", ""]
    out += [
        f"- {md(b['metric'], start=True)} = {md(num(b['value']))} ({md(b['threshold'])}) in {md(b['stage'] or '-')}: opened "
        f"{at(b['opened'])}, {'still open' if b['open'] else 'closed ' + at(b['closed'])}"
        for b in record["breaches"]
    ] or ["- none"]
    out += ["", "## Gate Overrides", ""]
    for o in record["overrides"]:
        out.append(f'- {md(o["stage"], start=True)}: "{md(o["reason"])}" — {by(o)}')
        out += [f"  - overrode: {md(b)}" for b in o["blockers"]]
    out += [] if record["overrides"] else ["- none"]
    out += ["", "## Kills", ""]
    for k in record["kills"]:
        out.append(f"- {md(k['reason'], start=True)}")
        out += [
            f"  - {at(t['at'])} {md(t['type'])} ({md(t['user'])}@{md(t['host'])}): {md(t['detail'])}"
            for t in k["timeline"]
        ]
    out += [] if record["kills"] else ["- none"]
    out += ["", "## Incident Response", ""]
    for inc in record["incidents"]:
        closed = f", closed {by(inc['closed'])}" if inc["closed"]["at"] else ", open"
        out.append(f"### Incident {md(inc['id'])}: {md(inc['reason'])} — opened {by(inc['opened'])}{closed}")
        for step in inc["steps"]:
            out.append(f"- **{plan_md(step['label'])}** (by {at(step['due'])}): {_VERDICT[step['verdict']]}")
            for a in step["actions"]:
                who = f"{by(a)}{' (by the kill)' if a['by_kill'] else ''}" if a["done"] else "not done"
                out.append(f"  - {box(a['done'])} {plan_md(a['action'])} — {who}: {_VERDICT[a['verdict']]}")
        out.append("")
    out += [] if record["incidents"] else ["- none", ""]
    out += ["## Emergency Contacts", "", "| Issue | Contact | Method |", "|-------|---------|--------|"]
    out += [
        f"| {plan_md(c['issue'], cell=True)} | {plan_md(c['contact'], cell=True)} | {plan_md(c['method'], cell=True)} |"
        for c in record["contacts"]
    ]
    out += ["", "## Handoff Notes", ""]
    out += [f"- {at(n['at'])} {md(n['user'])}@{md(n['host'])}: {md(n['text'])}" for n in record["notes"]] or ["- none"]
    out += ["", *signed_decisions(record.get("signatures", []))] if record.get("signatures") else []
    audit = record["audit"]
    out += ["", "## Audit", "", f"{COUNT_LABEL} {int(audit['count'])}  ", f"{HEAD_LABEL} {code(audit['head'])}"]
    return out
