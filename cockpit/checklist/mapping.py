"""From a checklist's blocks to a :class:`~cockpit.checklist.draft.Draft`: the walk that calls the recognisers.

The walk keeps a context (the document header, a special section such as the approvals or the incident
response, or a stage and its current sub-heading) and hands each block to the recogniser for that
context. Every line it reads is marked in the draft's trace: as plan data, or as a note when nothing
recognised it. Nothing is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from cockpit.checklist import recognise as rx
from cockpit.checklist.blocks import Block
from cockpit.checklist.code import expectation, parse_code
from cockpit.checklist.draft import UNWIRED_TODO, Draft, Entry, StageDraft
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


class Mapper:
    def __init__(self, blocks: list[Block], draft: Draft) -> None:
        self.blocks = blocks
        self.draft = draft
        self.stage_level = _stage_level(blocks)
        self.context = "header"
        self.walk: _StageWalk | None = None
        self.sub = ""
        """Kind of the current sub-heading inside a special section."""
        self.title = ""
        self.consumed: set[int] = set()
        """Blocks already read as part of another (a step's nested actions)."""
        self.role_ids: set[str] = set()
        self.stage_ids: set[str] = set()
        self.flag_lines: dict[str, list[int]] = {}
        self.flag_off: dict[str, bool] = {}
        self.contact_methods: dict[str, str] = {}
        self.signoff: list[tuple[str, int]] = []
        for block in blocks:  # the emergency contacts table says how to reach who (for the stages' lists)
            if block.kind == "table" and len(block.rows) > 1 and rx.column(block.rows[0], rx.METHOD_COLUMN) is not None:
                contact = rx.column(block.rows[0], rx.CONTACT_COLUMN)
                method = rx.column(block.rows[0], rx.METHOD_COLUMN)
                if contact is not None and method is not None:
                    for row in block.rows[1:]:
                        if row[contact] and row[method]:
                            self.contact_methods.setdefault(row[contact].lower(), row[method])

    # ----------------------------------------------------------------- the walk

    def run(self) -> None:
        for index, block in enumerate(self.blocks):
            if index in self.consumed:
                continue
            if block.kind == "heading":
                self.heading(block)
            elif block.kind == "rule":
                self.draft.mark(block.line, None, "separator")
            elif block.kind == "html":
                self.note(block, "HTML block: kept as a note")
            elif self.context == "stage" and self.walk is not None:
                self.stage_block(index, block)
            elif self.context in ("approvals", "contacts", "incident"):
                getattr(self, f"{self.context}_block")(index, block)
            else:
                self.header_block(block)
        self.finish()

    def note(self, block: Block, why: str = "not recognised: kept as a note") -> None:
        self.draft.mark(range(block.line, block.end + 1), None, why)

    def heading(self, block: Block) -> None:
        level = self.stage_level
        if level is not None and block.level > level and self.context != "header":
            self.subheading(block)
            return
        if level is None or block.level < level:
            if not self.title and block.level == 1 and not self.draft.stages:
                self.title = block.text
                self.draft.mark(block.line, None, "document title")
            else:
                self.draft.mark(block.line, None, "heading: kept as a note")
            self.context = "header" if not self.draft.stages else "outside"
            self.walk = None
            return
        special = rx.special_section(block.text) if not rx.STAGE_HEADING.match(block.text) else ""
        self.walk = None
        self.sub = ""
        if special:
            self.context = special
            self.draft.mark(block.line, None, f"{special} section")
            return
        self.context = "stage"
        self.start_stage(block)

    def subheading(self, block: Block) -> None:
        if self.context == "stage" and self.walk is not None:
            walk = self.walk
            walk.section = block.text or DEFAULT_SECTION
            walk.kind = rx.subsection_kind(block.text)
            walk.last_check = None
            found = rx.percents(block.text)
            if found and walk.canary_flag and walk.kind == "":
                walk.current_step = self.step(found[0], block.line, consume=False)
            self.draft.mark(block.line, walk.stage, f"section {block.text!r}")
        else:
            self.sub = rx.subsection_kind(block.text)
            self.draft.mark(block.line, None, f"{self.context} section: {block.text!r}")

    # ----------------------------------------------------------------- header

    def header_block(self, block: Block) -> None:
        if block.kind == "para":
            for offset, line in enumerate(block.text.splitlines()):
                found = rx.header_field(line)
                number = min(block.line + offset, block.end)
                if found and found[0] not in self.draft.rollout:
                    self.draft.rollout[found[0]] = found[1]
                    self.draft.rollout_lines.append(number)
                    self.draft.mark(number, None, f"rollout.{found[0]}")
                else:
                    self.draft.mark(number, None, "not recognised: kept as a note")
            return
        if block.kind == "table" and self.context == "header" and _approver_columns(block):
            self.approvers_table(block)
            return
        if block.kind == "item" and not self.draft.stages:  # items before any stage: a stage of their own
            self.start_stage(Block("heading", block.line, block.line, self.title or "Checklist", 2), virtual=True)
            self.context = "stage"
            assert self.walk is not None
            self.stage_block(self.blocks.index(block), block)
            return
        self.note(block)

    # ----------------------------------------------------------------- approvals

    def approvals_block(self, index: int, block: Block) -> None:
        if block.kind == "table" and _approver_columns(block):
            self.approvers_table(block)
        elif block.kind == "item" and block.text:
            handle, _, title = block.text.partition("(")
            title = title.rstrip(")").strip()
            if ":" in block.text and not title:
                title, _, handle = block.text.partition(":")
            self.approver(handle.strip(), title.strip() or handle.strip(), block.line)
        elif block.kind == "para" and re.search(r"do not proceed|all .* (?:checked|signed|approved)", block.text, re.I):
            self.note(block, "note: the approval gate holds the first stage until every approver has signed")
        else:
            self.note(block)

    def approvers_table(self, block: Block) -> None:
        header = block.rows[0]
        handle, role = _approver_columns(block) or (0, None)
        self.draft.mark(
            block.row_lines[0], None, "approvers table header (Approved and Date are filled by `cockpit approve`)"
        )
        if len(block.row_lines) > 1:
            self.draft.mark(block.row_lines[0] + 1, None, "table rule")
        for row, line in zip(block.rows[1:], block.row_lines[1:], strict=False):
            who = row[handle].strip() if handle is not None else ""
            title = row[role].strip() if role is not None else ""
            if not who and not title:
                self.draft.mark(line, None, "empty approvers row: kept as a note")
                continue
            self.approver(who, title or who, line)
        del header

    def approver(self, handle: str, title: str, line: int) -> None:
        role = rx.unique(rx.slug(title, join_hyphens=True) or rx.slug(handle) or "approver", self.role_ids)
        entry = Entry({"role": role, "title": title, "handle": handle}, [line])
        entry.todo.append("users = [...]: the OS usernames allowed to sign this role (empty: anyone)")
        self.draft.approvers.append(entry)
        self.draft.mark(line, entry, "")

    # ----------------------------------------------------------------- contacts

    def contacts_block(self, index: int, block: Block) -> None:
        if block.kind == "table":
            self.contacts_table(block, self.draft.contacts, None)
        elif block.kind == "item" and block.text:
            self.contact_item(block, self.draft.contacts, None)
        else:
            self.note(block)

    def contacts_table(self, block: Block, into: list[Entry], stage: StageDraft | None) -> None:
        header = block.rows[0]
        issue = rx.column(header, rx.ISSUE_COLUMN)
        issue = 0 if issue is None else issue
        contact = rx.column(header, rx.CONTACT_COLUMN, avoid=(issue,))
        if contact is None:
            contact = 1 if len(header) > 1 and issue != 1 else None
        method = rx.column(header, rx.METHOD_COLUMN, avoid=(issue, *(() if contact is None else (contact,))))
        self.draft.mark(block.row_lines[0], stage, "contacts table header")
        self.draft.mark(block.row_lines[0] + 1, stage, "table rule")
        for row, line in zip(block.rows[1:], block.row_lines[1:], strict=False):
            data = {
                "issue": row[issue],
                "contact": row[contact] if contact is not None else "",
                "method": row[method] if method is not None else "",
            }
            if not any(data.values()):
                self.draft.mark(line, None, "empty contacts row: kept as a note")
                continue
            entry = Entry(data, [line])
            into.append(entry)
            self.draft.mark(line, entry, "")

    def contact_item(self, block: Block, into: list[Entry], stage: StageDraft | None) -> None:
        issue, sep, who = block.text.partition(":")
        if not sep:
            issue, who = "", block.text
        who = who.strip()
        entry = Entry(
            {"issue": issue.strip(), "contact": who, "method": rx.contact_method(who, self.contact_methods)},
            [block.line],
        )
        into.append(entry)
        self.draft.mark(range(block.line, block.end + 1), entry, "")

    # ----------------------------------------------------------------- incident

    def incident_block(self, index: int, block: Block) -> None:
        found = rx.deadline(block.text) if block.kind == "item" and block.level == 0 else None
        if found is None:
            if block.kind == "para" and re.search(r"\bbreach|\bif\b", block.text, re.I):
                self.note(block, "note: an incident opens on a kill or a breach")
            else:
                self.note(block)
            return
        actions: list[str] = []
        lines = list(range(block.line, block.end + 1))
        codes: list[str] = []
        for j in range(index + 1, len(self.blocks)):
            child = self.blocks[j]
            if not _inside(self.blocks, j, index):
                break
            self.consumed.add(j)
            lines += range(child.line, child.end + 1)
            if child.kind == "item" and child.text:
                actions.append(child.text)
            elif child.kind == "code":
                codes += [ln.strip() for ln in child.text.splitlines() if ln.strip() and not _comment(ln)]
            elif child.kind in ("para", "table", "html"):
                actions.append(" ".join(child.text.split()) or "(table)")
        first = found.rest.rstrip(":").strip()
        if first or codes:
            actions.insert(0, f"{first}: {', '.join(codes)}" if first and codes else first or ", ".join(codes))
        ids = {e.data["id"] for e in self.draft.incident}
        entry = Entry(
            {
                "id": rx.unique(found.ident, ids),
                "deadline": format_duration(found.deadline),
                "label": found.label,
                "actions": actions or [found.label],
            },
            lines,
        )
        if _disables_flags(first, codes):
            entry.data["done_by_kill"] = True
        self.draft.incident.append(entry)
        self.draft.mark(lines, entry, "")

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
                self.contacts_table(block, stage.contacts, stage)
            elif block.text:
                self.contact_item(block, stage.contacts, stage)
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
            self.note(block)

    def stage_item(self, block: Block) -> None:
        walk = self.walk
        assert walk is not None
        text = " ".join(block.text.split())
        if not text:
            self.note(block, "empty item: kept as a note")
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
            commands = [ln.rstrip() for ln in block.text.splitlines() if ln.strip() and not _comment(ln)]
            text = "\n".join(commands) or "\n".join(ln.rstrip() for ln in block.text.splitlines() if ln.strip())
            if text:
                stage.data["backout"] = (stage.data.get("backout", "") + "\n" + text).strip()
                self.draft.mark(lines, stage, "backout")
            else:
                self.note(block, "empty code block: kept as a note")
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
                self.contacts_table(block, walk.stage.contacts, walk.stage)
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
            self.note(block)

    # ----------------------------------------------------------------- the end

    def finish(self) -> None:
        draft = self.draft
        self.rollout()
        for stage in list(draft.stages):  # a heading with nothing to do is a note, not an empty stage
            if stage.empty() and len(draft.stages) > 1:
                draft.stages.remove(stage)
                for marks in draft.trace.values():
                    for i, m in enumerate(marks):
                        if m.target is stage:
                            marks[i] = type(m)(None, "heading with nothing to check: kept as a note")
        for stage in draft.stages:
            if _irreversible(stage):
                stage.data["irreversible"] = True
                stage.notes.append("irreversible: a migration with SQL (flags off does not undo it); check this")
        self.wire_flags()
        roles = {a.data["title"].lower() for a in draft.approvers}
        for role, line in self.signoff:
            known = role.lower() in roles
            draft.mark(
                line,
                None,
                "sign-off row: `cockpit sign-off ROLE` for this approver role"
                if known
                else "sign-off row: no approver has this role (kept as a note)",
            )

    def rollout(self) -> None:
        """``[rollout]`` from the header fields; the service falls back on the title, then the file name."""
        draft = self.draft
        fields = draft.rollout
        stem = re.sub(r"\.(md|markdown|txt)$", "", draft.source_name.rsplit("/", 1)[-1], flags=re.I)
        first = next((b.text for b in self.blocks if b.kind == "heading" and b.level == 1 and b.text), "")
        service = fields.get("service") or self.title or first or stem or "service"
        version = fields.get("version", "")
        ident = rx.slug(f"{service} {version}", max_words=6) or "rollout"
        draft.rollout = {"id": ident[:64].strip("-") or "rollout", "service": service, "version": version}
        if fields.get("date"):
            draft.rollout["date"] = fields["date"]

    def wire_flags(self) -> None:
        draft = self.draft
        names: list[str] = []
        lines: dict[str, list[int]] = {}
        off: set[str] = set()
        for block in self.blocks:
            for name, enabled in rx.flag_mentions(block.text):
                if name not in names:
                    names.append(name)
                lines.setdefault(name, []).append(block.line)
                if not enabled:
                    off.add(name)
        for name in names:
            data: dict[str, Any] = {"name": name, "provider": UNWIRED}
            if name in off:
                data["backout"] = f"{name}=false"
            entry = Entry(data, lines[name][:1])
            draft.flags.append(entry)
            for line in lines[name]:
                draft.mark(line, entry, "")
        if names:
            provider = Entry(
                {
                    "kind": "command",
                    "read": _UNWIRED_COMMAND,
                    "off": _UNWIRED_COMMAND,
                    "on": _UNWIRED_COMMAND,
                    "percent": _UNWIRED_COMMAND,
                },
                [],
            )
            provider.todo.append(
                f"{UNWIRED_TODO}: replace this table with your flag system (kind = unleash, http, envfile or command); "
                "until then the kill switch is NOT ARMED and says so"
            )
            draft.providers[UNWIRED] = provider


_UNWIRED_COMMAND = "echo 'flag provider not wired: edit [providers.unwired] in the plan' >&2; exit 1"


def _disables_flags(first: str, codes: list[str]) -> bool:
    """A step that turns the rollout's flags off: the kill switch does it."""
    return bool(rx.DISABLE.search(first)) or any(not on for code in codes for _, on in rx.flag_mentions(code))


def _irreversible(stage: StageDraft) -> bool:
    sql = any(c.data.get("kind") == "sql" for c in stage.checks)
    return bool(sql and rx.MIGRATION.search(stage.data["title"]))


def _comment(line: str) -> bool:
    return line.strip().startswith(("#", "--", "//"))


def _inside(blocks: list[Block], j: int, ancestor: int) -> bool:
    parent = blocks[j].parent
    seen = 0
    while parent is not None and seen < 64:
        if parent == ancestor:
            return True
        parent = blocks[parent].parent
        seen += 1
    return False


def _approver_columns(block: Block) -> tuple[int | None, int | None] | None:
    if len(block.rows) < 2:
        return None
    header = block.rows[0]
    handle = rx.column(header, rx.HANDLE_COLUMN)
    role = rx.column(header, rx.ROLE_COLUMN, avoid=(() if handle is None else (handle,)))
    if handle is None and role is None:
        return None
    return handle, role


def _stage_level(blocks: list[Block]) -> int | None:
    """The heading level stages are written at: that of the first "Stage N" / "Phase N" / "1." heading,
    else the level below a lone title, else None (no headings)."""
    headings = [b for b in blocks if b.kind == "heading"]
    for b in headings:
        if rx.STAGE_HEADING.match(b.text) and (b.level > 1 or sum(h.level == 1 for h in headings) > 1):
            return b.level
    levels = sorted({b.level for b in headings})
    if not levels:
        return None
    if levels[0] == 1 and sum(b.level == 1 for b in headings) == 1 and len(levels) > 1:
        return levels[1]
    return levels[0]
