"""A stage of the checklist: its items, checks, thresholds, canary steps and soaks, backout, prerequisites.

:class:`Stages` is handed the blocks between one stage heading and the next, with the sub-heading they sit
under (Actions, Verification, Backout Command, "Week 1: 5% Canary"), and maps each to the stage's plan data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from cockpit.checklist import recognise as rx
from cockpit.checklist.blocks import Block
from cockpit.checklist.code import comment_line, expectation, parse_code
from cockpit.checklist.draft import UNWIRED_TODO, Draft, Entry, StageDraft
from cockpit.checklist.sections import Sections
from cockpit.plan.parts import UNWIRED, format_duration
from cockpit.plan.thresholds import Threshold

DEFAULT_SECTION = "Actions"


@dataclass
class _StageWalk:
    """What the walk knows about the stage it is in."""

    stage: StageDraft
    flags_on: list[str]
    canary_flag: str
    section: str = DEFAULT_SECTION
    kind: str = ""
    current_step: Entry | None = None
    last_check: Entry | None = None
    item_ids: set[str] = field(default_factory=set)
    check_ids: set[str] = field(default_factory=set)
    step_by_percent: dict[int, Entry] = field(default_factory=dict)


class Stages:
    """Maps the blocks of each stage; ``walk`` is the stage being read (None outside the stages)."""

    def __init__(self, blocks: list[Block], draft: Draft, sections: Sections, stage_level: int | None) -> None:
        self.blocks = blocks
        self.draft = draft
        self.sections = sections
        self.stage_level = stage_level
        self.walk: _StageWalk | None = None
        self.stage_ids: set[str] = set()
        self.signoff: list[tuple[str, int]] = []
        """Rows of the Sign-Off tables: (role, line)."""

    def subheading(self, block: Block) -> None:
        walk = self.walk
        assert walk is not None
        walk.section = block.text or DEFAULT_SECTION
        walk.kind = rx.subsection_kind(block.text)
        walk.last_check = None
        found = rx.percents(block.text)
        if found and walk.canary_flag and walk.kind == "":
            walk.current_step = self.step(found[0], block.line, consume=False)
        self.draft.mark(block.line, walk.stage, f"section {block.text!r}")

    # ----------------------------------------------------------------- stages

    def start_stage(self, block: Block, *, virtual: bool = False) -> None:
        title = block.text or f"Stage {len(self.draft.stages)}"
        data: dict[str, Any] = {"id": rx.unique(rx.stage_id(title), self.stage_ids), "title": title}
        stage = StageDraft(data, [block.line])
        self.draft.stages.append(stage)
        flags_on, canary_flag = self._stage_flags(self.blocks.index(block) if not virtual else -1)
        self.walk = _StageWalk(stage, flags_on, canary_flag)
        if flags_on:
            data["flags"] = flags_on
        if not virtual:
            self.draft.mark(block.line, stage, "title")
        if canary_flag:
            for percent in rx.ramp(title):
                self.step(percent, block.line, consume=False)
        if rx.BASELINE.search(title):
            self.captures_baseline(stage)

    def _stage_flags(self, start: int) -> tuple[list[str], str]:
        """The flags this stage turns on (``NAME=true``), and the one its canary steps move."""
        on: list[str] = []
        canary = ""
        for j in range(start + 1, len(self.blocks)):
            block = self.blocks[j]
            if block.kind == "heading" and self.stage_level is not None and block.level <= self.stage_level:
                break
            for name, enabled in rx.flag_mentions(block.text):
                if enabled and name not in on:
                    on.append(name)
                if enabled and not canary and rx.VIA_ROLLOUT.search(block.text):
                    canary = name
        return on, canary or (on[0] if on else "")

    def captures_baseline(self, stage: StageDraft) -> None:
        if not any(s.data.get("captures_baseline") for s in self.draft.stages):
            stage.data["captures_baseline"] = True

    def stage_block(self, index: int, block: Block) -> None:
        walk = self.walk
        assert walk is not None
        stage = walk.stage
        if walk.kind == "contacts" and block.kind in ("item", "table"):
            if block.kind == "table":
                self.sections.contacts_table(block, stage.contacts, stage)
            elif block.text:
                self.sections.contact_item(block, stage.contacts, stage)
            return
        if block.kind == "item":
            self.stage_item(block)
        elif block.kind == "code":
            self.stage_code(index, block)
        elif block.kind == "table":
            self.stage_table(block)
        elif block.kind == "para":
            self.stage_para(block)
        else:
            self.draft.note(block)

    def stage_item(self, block: Block) -> None:
        walk = self.walk
        assert walk is not None
        text = " ".join(block.text.split())
        if not text:
            self.draft.note(block, "empty item: kept as a note")
            return
        lines = range(block.line, block.end + 1)
        if walk.kind == "backout":  # how to undo the stage, not a box to tick on the way forward
            walk.stage.data["backout"] = (walk.stage.data.get("backout", "") + "\n" + text).strip()
            self.draft.mark(lines, walk.stage, "backout")
            return
        if walk.canary_flag:
            step_match = rx.STEP_ITEM.match(text)
            if step_match:
                walk.current_step = self.step(int(step_match[1]), block.line, consume=True)
                self.draft.mark(lines, walk.current_step, "")
                return
            soak = rx.soak_of(text)
            target = walk.current_step or next((s for s in walk.stage.canary if "soak" not in s.data), None)
            if soak is not None and target is not None and "soak" not in target.data:
                self.set_soak(target, soak, text, block.line)
                return
            healthy = rx.HEALTHY_FOR.match(text)
            if healthy:
                step = walk.step_by_percent.get(int(healthy[1]))
                soak = rx.duration(text[healthy.end() :])
                if step is not None and soak and "soak" not in step.data:
                    self.set_soak(step, soak, text, block.line)
            if rx.VIA_ROLLOUT.search(text) and rx.percents(text) and not walk.stage.canary:
                walk.current_step = self.step(rx.percents(text)[0], block.line, consume=False)
            elif rx.VIA_ROLLOUT.search(text) and walk.stage.canary:
                walk.current_step = walk.stage.canary[0]
            else:
                found = rx.percents(text)
                if found and found[0] in walk.step_by_percent and not rx.HEALTHY_FOR.match(text):
                    walk.current_step = walk.step_by_percent[found[0]]
        self.item(text, lines)
        if block.checked:  # the plan starts with every box open: the record, not the file, says what is done
            self.draft.mark(lines, None, "note: [x] in the checklist; `cockpit tick` records it in the rollout")
        if rx.BASELINE.search(text):
            self.captures_baseline(walk.stage)
        self.requires(text, lines)

    def item(self, text: str, lines: range | list[int], section: str | None = None) -> Entry:
        walk = self.walk
        assert walk is not None
        ident = rx.unique(rx.slug(text, max_words=4) or "item", walk.item_ids)
        entry = Entry({"id": ident, "section": section or walk.section, "text": text}, list(lines))
        walk.stage.items.append(entry)
        self.draft.mark(lines, entry, "")
        return entry

    def step(self, percent: int, line: int, *, consume: bool) -> Entry:
        """The canary step to ``percent`` of the stage's flag (made on first mention)."""
        walk = self.walk
        assert walk is not None
        if percent in walk.step_by_percent:
            return walk.step_by_percent[percent]
        flag = walk.canary_flag
        base = rx.slug(re.sub(r"^(?:FEATURE_)?(?:FLAG_)?|_ENABLED$", "", flag), max_words=3) or "canary"
        ids = {e.data["id"] for e in walk.stage.canary}
        entry = Entry({"id": rx.unique(f"{base}-{percent}", ids), "flag": flag, "percent": percent}, [line])
        walk.stage.canary.append(entry)
        walk.step_by_percent[percent] = entry
        walk.stage.canary.sort(key=lambda e: e.data["percent"])
        self.draft.mark(line, entry, "percent" if not consume else "")
        return entry

    def set_soak(self, step: Entry, soak: timedelta, label: str, line: int) -> None:
        step.data["soak"] = format_duration(soak)
        step.data["soak_label"] = label
        step.lines.append(line)
        self.draft.mark(line, step, "soak")

    def requires(self, text: str, lines: range | list[int]) -> None:
        walk = self.walk
        assert walk is not None
        stage = walk.stage
        earlier = self.draft.stages[: self.draft.stages.index(stage)]
        wanted: list[str] = []
        if walk.kind == "prereq" or rx.REQUIRES.search(text):
            for m in rx.STAGE_MENTION.finditer(text):
                ident = f"{m[1].lower()}-{m[2]}"
                if any(s.data["id"] == ident for s in earlier):
                    wanted.append(ident)
        if rx.ALL_FLAGS.search(text):
            wanted += [s.data["id"] for s in earlier if s.data.get("flags")]
        if wanted:
            have = stage.data.setdefault("requires", [])
            for ident in wanted:
                if ident not in have:
                    have.append(ident)
            self.draft.mark(lines, stage, "requires")

    def stage_code(self, index: int, block: Block) -> None:
        walk = self.walk
        assert walk is not None
        stage = walk.stage
        lines = range(block.line, block.end + 1)
        if walk.kind == "backout":
            commands = [ln.rstrip() for ln in block.text.splitlines() if ln.strip() and not comment_line(ln)]
            text = "\n".join(commands) or "\n".join(ln.rstrip() for ln in block.text.splitlines() if ln.strip())
            if text:
                stage.data["backout"] = (stage.data.get("backout", "") + "\n" + text).strip()
                self.draft.mark(lines, stage, "backout")
            else:
                self.draft.note(block, "empty code block: kept as a note")
            return
        parsed = parse_code(block.text, block.lang, block.line + 1)
        if walk.kind == "verification" or (block.parent is not None and walk.kind == "verification"):
            for check in parsed.checks:
                ident = rx.unique(rx.slug(check.label or check.display, max_words=4) or "check", walk.check_ids)
                entry = Entry({"id": ident, **check.data(ident)}, check.lines)
                if entry.data["source"] == UNWIRED:
                    entry.todo.append(check.todo)
                elif check.kind == "command":
                    self.command_source(entry)
                stage.checks.append(entry)
                walk.last_check = entry
                self.draft.mark([block.line, *check.lines, block.end], entry, "")
            for label, line in parsed.manual:
                self.item(label, [line])
        else:
            for command, line in parsed.commands:
                self.item(f"Run `{command}`", [line])
            for label, line in parsed.manual:
                self.draft.mark(line, None, f"comment {label!r}: kept as a note")
            self.draft.mark([block.line, block.end], stage, "code block")
        for line in parsed.blank_or_comment:
            if line not in self.draft.trace:
                self.draft.mark(line, None, "comment: kept as a note")

    def command_source(self, entry: Entry) -> None:
        if "shell" not in self.draft.sources:
            source = Entry({"kind": "command", "cwd": ".", "timeout": "60s"}, list(entry.lines[:1]))
            source.todo.append("cwd: the directory the checklist's commands run in (relative to this plan)")
            self.draft.sources["shell"] = source

    def stage_table(self, block: Block) -> None:
        walk = self.walk
        assert walk is not None
        header = block.rows[0]
        threshold = rx.column(header, rx.THRESHOLD_COLUMN)
        if walk.kind == "signoff" or (
            rx.column(header, rx.ROLE_COLUMN) is not None and threshold is None and walk.kind != ""
        ):
            self.signoff_table(block)
            return
        if threshold is None:
            if rx.column(header, rx.CONTACT_COLUMN) is not None and rx.column(header, rx.METHOD_COLUMN) is not None:
                self.sections.contacts_table(block, walk.stage.contacts, walk.stage)
                return
            self.draft.mark(block.row_lines[0], walk.stage, "table header")
            self.draft.mark(block.row_lines[0] + 1, walk.stage, "table rule")
            for row, line in zip(block.rows[1:], block.row_lines[1:], strict=False):
                cells = [f"{h}: {c}" if h else c for h, c in zip(header, row, strict=False) if c]
                if cells:
                    self.item(" · ".join(cells), [line])
                else:
                    self.draft.mark(line, None, "empty table row: kept as a note")
            return
        label = rx.column(header, rx.LABEL_COLUMN, avoid=(threshold,))
        label = label if label is not None else (0 if threshold != 0 else 1 if len(header) > 1 else None)
        self.draft.mark(block.row_lines[0], walk.stage, "thresholds table header (Actual is filled by the export)")
        self.draft.mark(block.row_lines[0] + 1, walk.stage, "table rule")
        for row, line in zip(block.rows[1:], block.row_lines[1:], strict=False):
            name = row[label].strip() if label is not None else ""
            text = rx.threshold_text(row[threshold])
            if not name and not text:
                self.draft.mark(line, None, "empty thresholds row: kept as a note")
                continue
            try:
                parsed = Threshold.parse(text)
            except ValueError:
                self.item(f"{name}: {text}" if text else f"{name}: (no threshold given)", [line])
                self.draft.mark(line, None, "threshold not understood: kept as an item")
                continue
            self.threshold(name or text, parsed, line)

    def threshold(self, label: str, parsed: Threshold, line: int) -> None:
        walk = self.walk
        assert walk is not None
        name = rx.metric_name(label, parsed.kind == "relative", list(self.draft.metrics))
        kind = "text" if parsed.kind == "text" else "counter" if parsed.kind == "rate" else "gauge"
        unit = parsed.unit if parsed.kind == "absolute" else ""
        base, n = name, 1
        while name in self.draft.metrics:
            metric = self.draft.metrics[name]
            clash = (metric.data["kind"] == "text") != (kind == "text") or (
                unit and metric.data.get("unit") and metric.data["unit"] != unit
            )
            if not clash:
                if unit and not metric.data.get("unit"):
                    metric.data["unit"] = unit
                if kind == "counter" and metric.data["kind"] == "gauge":
                    metric.data["kind"] = "counter"
                metric.lines.append(line)
                break
            n += 1
            name = f"{base}_{n}"
        else:
            data: dict[str, Any] = {"title": label, "source": UNWIRED, "kind": kind}
            if unit:
                data["unit"] = unit
            metric = Entry(data, [line])
            metric.todo.append(
                f"{UNWIRED_TODO}: set source to a [sources] entry and say how to read {label!r} "
                "(query = PromQL or SQL; or path + json_path for HTTP; or command)"
            )
            self.draft.metrics[name] = metric
        entry = Entry({"metric": name, "label": label, "threshold": parsed.text}, [line])
        walk.stage.thresholds.append(entry)
        self.draft.mark(line, entry, "")
        self.draft.mark(line, metric, "")

    def signoff_table(self, block: Block) -> None:
        walk = self.walk
        assert walk is not None
        self.draft.mark(block.row_lines[0], walk.stage, "sign-off table header")
        self.draft.mark(block.row_lines[0] + 1, walk.stage, "table rule")
        for row, line in zip(block.rows[1:], block.row_lines[1:], strict=False):
            role = row[0].strip()
            self.signoff.append((role, line))

    def stage_para(self, block: Block) -> None:
        walk = self.walk
        assert walk is not None
        text = " ".join(block.text.split())
        lines = range(block.line, block.end + 1)
        expected = re.match(r"^expected(?:\s+\w+)?\s*:\s*(.+)$", text, re.I)
        if expected and walk.last_check is not None:
            walk.last_check.data.update(expectation(walk.last_check.data["kind"], expected[1]))
            walk.last_check.lines.append(block.line)
            self.draft.mark(lines, walk.last_check, "expect")
            return
        if walk.kind == "backout":
            walk.stage.data["backout"] = (walk.stage.data.get("backout", "") + "\n" + text).strip()
            self.draft.mark(lines, walk.stage, "backout")
            return
        if rx.IRREVERSIBLE.search(text):
            walk.stage.data["irreversible"] = True
            walk.stage.notes.append(f"irreversible: line {block.line} says {text[:80]!r}")
            self.draft.mark(lines, walk.stage, "irreversible")
            return
        soak = rx.soak_of(text)
        target = walk.current_step or next((s for s in walk.stage.canary if "soak" not in s.data), None)
        if soak is not None and target is not None and "soak" not in target.data:
            self.set_soak(target, soak, text, block.line)
            return
        before = len(walk.stage.data.get("requires", []))
        self.requires(text, lines)
        if len(walk.stage.data.get("requires", [])) == before:
            self.draft.note(block)


def irreversible(stage: StageDraft) -> bool:
    """A migration with SQL: turning flags off does not undo it (a point of no return to confirm)."""
    sql = any(c.data.get("kind") == "sql" for c in stage.checks)
    return bool(sql and rx.MIGRATION.search(stage.data["title"]))
