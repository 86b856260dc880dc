"""The draft plan as readable TOML: tomli-w writes the values, each table under comments quoting the
checklist lines it came from, in checklist order, with a ``# TODO`` for what the checklist could not say.
"""

from __future__ import annotations

import re
from typing import Any

import tomli_w

from cockpit.checklist.draft import Draft, Entry, StageDraft

RULE = "# " + "-" * 64
MAX_QUOTED = 4
"""Lines quoted above one table (a long code block is quoted by its first lines and a count)."""

_UNPRINTABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SECRETISH = re.compile(
    r"((?:bearer|basic|token|password|passwd|pwd|secret|api[_-]?key|apikey)\s*[:=]?\s*)([^\s\"'$][^\s\"']{5,})",
    re.I,
)
DRAFT_MARK = "# Draft rollout plan imported from "
"""How a draft's first line starts (``plan import -o`` replaces such a file without ``--force``)."""
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def safe_line(text: str, limit: int = 160) -> str:
    """A checklist line fit for a TOML comment or a terminal: control and bidi characters shown as ``?``,
    what looks like a literal credential (``Bearer abc…``) masked, long lines cut."""
    text = _SECRETISH.sub(lambda m: m[1] + "***", _UNPRINTABLE.sub("?", text.expandtabs(4)))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _comment(text: str) -> str:
    return "# " + safe_line(text, 200) if text else "#"


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else tomli_w.dumps({name: 0}).split(" = ")[0]


class _Writer:
    def __init__(self, draft: Draft) -> None:
        self.draft = draft
        self.out: list[str] = []

    def quote(self, lines: list[int]) -> None:
        seen = sorted(dict.fromkeys(n for n in lines if 0 < n <= len(self.draft.lines)))
        for n in seen[:MAX_QUOTED]:
            self.out.append(_comment(f"{self.draft.source_name}:{n}: {self.draft.lines[n - 1].strip()}"))
        if len(seen) > MAX_QUOTED:
            self.out.append(_comment(f"… and {len(seen) - MAX_QUOTED} more lines, to line {seen[-1]}"))

    def table(self, header: str, data: dict[str, Any], entry: Entry | StageDraft | None = None) -> None:
        if entry is not None:
            self.quote(entry.lines)
        self.out.append(header)
        body = tomli_w.dumps(data).rstrip("\n")
        if body:
            self.out.append(body)
        for todo in entry.todo if isinstance(entry, Entry) else []:  # a stage's notes are written before it
            self.out.append(_comment(todo if todo.startswith("TODO") else f"TODO: {todo}"))
        self.out.append("")

    def section(self, title: str) -> None:
        title = safe_line(title, 60)
        self.out += [f"{RULE[: max(66 - len(title) - 1, 4)]} {title}", ""]


def write_toml(draft: Draft, data: dict[str, Any]) -> str:
    """The plan TOML of ``draft`` (``data`` is ``draft.data()``, its strings made safe for the plan)."""
    w = _Writer(draft)
    w.out += [
        DRAFT_MARK + safe_line(f"{draft.source_name} by `cockpit plan import`."),
        "# Every table quotes the checklist lines it came from. Lines marked TODO are what the checklist",
        "# cannot say (where a metric is read, the flag system): until they are filled in, the dashboard",
        "# shows those metrics as NOT WIRED and the gate of their stage stays closed.",
        "# Check it with: cockpit --config THIS_FILE validate",
        "",
    ]
    if not draft.approvers:  # a top-level key: before the first table
        w.out += ["approvers = []  # TODO: the checklist names no approvers", ""]
    w.quote(draft.rollout_lines)
    w.out += ["[rollout]", tomli_w.dumps(data["rollout"]).rstrip("\n"), ""]
    if draft.approvers:
        w.section("Pre-Rollout Approvals")
        for entry, approver in zip(draft.approvers, data["approvers"], strict=True):
            w.table("[[approvers]]", approver, entry)
    for part, title in (("sources", "Where checks run"), ("metrics", "Metrics"), ("providers", "Flag provider")):
        entries: dict[str, Entry] = getattr(draft, part)
        if entries:
            w.section(title)
            for name, entry in entries.items():
                w.table(f"[{part}.{_key(name)}]", data[part][name], entry)
    if draft.flags:
        w.section("Flags and the kill switch")
        for entry, flag in zip(draft.flags, data["flags"], strict=True):
            w.table("[[flags]]", flag, entry)
    for stage, stage_data in zip(draft.stages, data["stages"], strict=True):
        w.section(stage.data["title"])
        parts = ("items", "checks", "thresholds", "canary", "contacts")
        scalars = {k: v for k, v in stage_data.items() if k not in parts}
        for note in stage.notes:
            w.out.append(_comment(note))
        w.table("[[stages]]", scalars, stage)
        tables = [  # in checklist order: TOML appends each [[stages.X]] to the last stage whatever comes between
            (min(entry.lines, default=0), f"[[stages.{part}]]", value, entry)
            for part in parts
            for entry, value in zip(getattr(stage, part), stage_data.get(part, []), strict=True)
        ]
        for _, header, value, entry in sorted(tables, key=lambda t: t[0]):
            w.table(header, value, entry)
    for part, title in (("contacts", "Emergency Contacts"), ("incident", "Incident Response")):
        entries_list: list[Entry] = getattr(draft, part)
        if entries_list:
            w.section(title)
            for entry, value in zip(entries_list, data[part], strict=True):
                w.table(f"[[{part}]]", value, entry)
    return "\n".join(w.out).rstrip("\n") + "\n"
