"""From a checklist's blocks to a :class:`~cockpit.checklist.draft.Draft`: the walk that calls the recognisers.

The walk keeps a context (the document header, a special section such as the approvals or the incident
response, or a stage and its current sub-heading) and hands each block to what reads that context:
:class:`~cockpit.checklist.sections.Sections` or :class:`~cockpit.checklist.stages.Stages`. Every line it
reads is marked in the draft's trace: as plan data, or as a note when nothing recognised it. Nothing is
dropped. At the end come what needs the whole checklist: ``[rollout]``, the flags, the sign-off rows.
"""

from __future__ import annotations

import re
from typing import Any

from cockpit.checklist import recognise as rx
from cockpit.checklist.blocks import Block
from cockpit.checklist.draft import UNWIRED_TODO, Draft, Entry
from cockpit.checklist.sections import Sections, approver_columns
from cockpit.checklist.stages import Stages, irreversible
from cockpit.plan.parts import UNWIRED


class Mapper:
    """Walks the blocks in order, with the context of the heading they sit under."""

    def __init__(self, blocks: list[Block], draft: Draft) -> None:
        self.blocks = blocks
        self.draft = draft
        self.context = "header"
        """``header``, ``approvals``, ``contacts``, ``incident``, ``stage`` or ``outside``."""
        self.title = ""
        self.consumed: set[int] = set()
        self.sections = Sections(blocks, draft, self.consumed)
        self.stages = Stages(blocks, draft, self.sections, _stage_level(blocks))

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
                self.draft.note(block, "HTML block: kept as a note")
            elif self.context == "stage" and self.stages.walk is not None:
                self.stages.stage_block(index, block)
            elif self.context == "approvals":
                self.sections.approvals_block(block)
            elif self.context == "contacts":
                self.sections.contacts_block(block)
            elif self.context == "incident":
                self.sections.incident_block(index, block)
            else:
                self.header_block(block)
        self.finish()

    def heading(self, block: Block) -> None:
        level = self.stages.stage_level
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
            self.stages.walk = None
            return
        special = rx.special_section(block.text) if not rx.STAGE_HEADING.match(block.text) else ""
        self.stages.walk = None
        if special:
            self.context = special
            self.draft.mark(block.line, None, f"{special} section")
            return
        self.context = "stage"
        self.stages.start_stage(block)

    def subheading(self, block: Block) -> None:
        if self.context == "stage" and self.stages.walk is not None:
            self.stages.subheading(block)
        else:
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
        if block.kind == "table" and self.context == "header" and approver_columns(block):
            self.sections.approvers_table(block)
            return
        if block.kind == "item" and not self.draft.stages:  # items before any stage: a stage of their own
            virtual = Block("heading", block.line, block.line, self.title or "Checklist", 2)
            self.stages.start_stage(virtual, virtual=True)
            self.context = "stage"
            self.stages.stage_block(self.blocks.index(block), block)
            return
        self.draft.note(block)

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
        for index, stage in enumerate(draft.stages):
            earlier = {s.data["id"] for s in draft.stages[:index]}
            if "requires" in stage.data:  # a stage it named may have been a heading with nothing to check
                stage.data["requires"] = [r for r in stage.data["requires"] if r in earlier]
                if not stage.data["requires"]:
                    del stage.data["requires"]
            if irreversible(stage):
                stage.data["irreversible"] = True
                stage.notes.append("irreversible: a migration with SQL (flags off does not undo it); check this")
        self.wire_flags()
        roles = {a.data["title"].lower() for a in draft.approvers}
        for role, line in self.stages.signoff:
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
            first = block.line + 1 if block.kind == "code" else block.line  # a code block's text starts after its fence
            for offset, text in enumerate(block.text.split("\n")):
                for name, enabled in rx.flag_mentions(text):
                    if name not in names:
                        names.append(name)
                    lines.setdefault(name, []).append(min(first + offset, block.end))
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
