"""``cockpit plan import --report``: each checklist line and the plan key it became, or why it stayed text."""

from __future__ import annotations

from cockpit.checklist.draft import Draft, Mapped
from cockpit.checklist.write import safe_line

NOTE = "not recognised: kept as a note"
WIDTH = 56
"""Columns of the checklist line shown before the arrow."""


def _describe(keys: dict[int, str], mapped: Mapped) -> str:
    if mapped.target is None:
        return mapped.what
    key = keys.get(id(mapped.target), "?")
    return (
        f"{key}.{mapped.what}"
        if mapped.what
        and not mapped.what.startswith(("section", "table", "code", "thresholds", "contacts", "sign-off"))
        else (f"{key} ({mapped.what})" if mapped.what else key)
    )


def render_report(draft: Draft, output: str) -> str:
    """The line-by-line report, then the counts and what is left to wire."""
    out = [f"{safe_line(draft.source_name)} -> {safe_line(output)}", ""]
    mapped = notes = 0
    keys = draft.keys()
    for number, raw in enumerate(draft.lines, start=1):
        if not raw.strip():
            continue
        marks = draft.trace.get(number) or [Mapped(None, NOTE)]
        described = [_describe(keys, m) for m in marks]
        if all(m.target is None and "note" in m.what for m in marks):
            notes += 1
        else:
            mapped += 1
        line = safe_line(raw.rstrip(), WIDTH)
        out.append(f"{number:>5}  {line:<{WIDTH}}  -> {'; '.join(dict.fromkeys(described))}")
    todo = [f"metrics.{n}" for n, e in draft.metrics.items() if e.todo]
    todo += [keys[id(c)] for s in draft.stages for c in s.checks if c.todo]
    todo += [f"providers.{n}" for n, e in draft.providers.items() if e.todo]
    out += [
        "",
        f"{mapped} lines mapped to the plan, {notes} left as text (notes); "
        f"{len(draft.stages)} stages, {sum(len(s.items) for s in draft.stages)} items, "
        f"{sum(len(s.checks) for s in draft.stages)} checks, {sum(len(s.thresholds) for s in draft.stages)} thresholds, "
        f"{sum(len(s.canary) for s in draft.stages)} canary steps, {len(draft.flags)} flags, "
        f"{len(draft.approvers)} approvers, {len(draft.contacts)} contacts, {len(draft.incident)} incident steps.",
    ]
    if todo:
        out.append(f"Not wired yet (TODO in the plan): {', '.join(todo)}")
    return "\n".join(out) + "\n"
