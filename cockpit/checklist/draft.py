"""The draft plan an import builds: plain plan data, each piece with the checklist lines it came from.

A :class:`Draft` is what :mod:`cockpit.checklist.mapping` fills in, what :mod:`cockpit.checklist.write`
turns into commented TOML and what :mod:`cockpit.checklist.report` explains line by line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cockpit.checklist.blocks import Block

UNWIRED_TODO = "TODO: not wired"
NOTE = "not recognised: kept as a note"


@dataclass(eq=False)
class Entry:
    """One TOML table of the draft (an item, a check, a metric…): its data and where it came from."""

    data: dict[str, Any]
    lines: list[int]
    todo: list[str] = field(default_factory=list)
    """Comments naming what the checklist could not say (``# TODO: …``)."""


@dataclass(eq=False)
class StageDraft:
    data: dict[str, Any]
    lines: list[int]
    items: list[Entry] = field(default_factory=list)
    checks: list[Entry] = field(default_factory=list)
    thresholds: list[Entry] = field(default_factory=list)
    canary: list[Entry] = field(default_factory=list)
    contacts: list[Entry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Why a scalar was set (``irreversible``, ``requires``): comments above the stage."""

    def empty(self) -> bool:
        return not (self.items or self.checks or self.thresholds or self.canary or self.data.get("backout"))


@dataclass(frozen=True)
class Mapped:
    """What one checklist line became: ``target`` (an :class:`Entry`, a :class:`StageDraft` or None) and
    a key under it (``text``, ``soak``) or, with no target, a description (``note``, ``rollout.service``)."""

    target: Entry | StageDraft | None
    what: str


@dataclass
class Draft:
    source_name: str
    lines: list[str]
    """The checklist's lines (for the comments and the report)."""
    rollout: dict[str, Any] = field(default_factory=dict)
    rollout_lines: list[int] = field(default_factory=list)
    approvers: list[Entry] = field(default_factory=list)
    sources: dict[str, Entry] = field(default_factory=dict)
    metrics: dict[str, Entry] = field(default_factory=dict)
    providers: dict[str, Entry] = field(default_factory=dict)
    flags: list[Entry] = field(default_factory=list)
    stages: list[StageDraft] = field(default_factory=list)
    contacts: list[Entry] = field(default_factory=list)
    incident: list[Entry] = field(default_factory=list)
    trace: dict[int, list[Mapped]] = field(default_factory=dict)
    """Checklist line number -> what it became."""

    def mark(self, lines: range | list[int] | int, target: Entry | StageDraft | None, what: str) -> None:
        for line in [lines] if isinstance(lines, int) else lines:
            found = self.trace.setdefault(line, [])
            if not any(m.target is target and m.what == what for m in found):
                found.append(Mapped(target, what))

    def note(self, block: Block, why: str = NOTE) -> None:
        """Every line of ``block`` stays text (a note in the report and a comment in the draft)."""
        self.mark(range(block.line, block.end + 1), None, why)

    def keys(self) -> dict[int, str]:
        """The dotted plan key of every target, by ``id()``: ``stages.2.items.0``, ``metrics.error_rate``."""
        out: dict[int, str] = {}
        for si, stage in enumerate(self.stages):
            out[id(stage)] = f"stages.{si}"
            for part in ("items", "checks", "thresholds", "canary", "contacts"):
                for i, entry in enumerate(getattr(stage, part)):
                    out[id(entry)] = f"stages.{si}.{part}.{i}"
        for part in ("approvers", "flags", "contacts", "incident"):
            for i, entry in enumerate(getattr(self, part)):
                out[id(entry)] = f"{part}.{i}"
        for part in ("sources", "metrics", "providers"):
            for name, entry in getattr(self, part).items():
                out[id(entry)] = f"{part}.{name}"
        return out

    def data(self) -> dict[str, Any]:
        """The plan as plain data (what the TOML holds)."""
        out: dict[str, Any] = {"rollout": dict(self.rollout), "approvers": [dict(a.data) for a in self.approvers]}
        for part in ("sources", "metrics", "providers"):
            table = getattr(self, part)
            if table:
                out[part] = {name: dict(e.data) for name, e in table.items()}
        if self.flags:
            out["flags"] = [dict(f.data) for f in self.flags]
        out["stages"] = []
        for stage in self.stages:
            data = dict(stage.data)
            for part in ("items", "checks", "thresholds", "canary", "contacts"):
                entries = getattr(stage, part)
                if entries:
                    data[part] = [dict(e.data) for e in entries]
            out["stages"].append(data)
        if self.contacts:
            out["contacts"] = [dict(c.data) for c in self.contacts]
        if self.incident:
            out["incident"] = [dict(i.data) for i in self.incident]
        return out
