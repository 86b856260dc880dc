"""The checklist's sections outside the stages: the approvals, the emergency contacts, the incident response.

Also the contacts lists and tables inside a stage ("Who to Call if Issues"), which read the same way.
"""

from __future__ import annotations

import re

from cockpit.checklist import recognise as rx
from cockpit.checklist.blocks import Block
from cockpit.checklist.code import comment_line
from cockpit.checklist.draft import Draft, Entry, StageDraft
from cockpit.plan.parts import format_duration


class Sections:
    """Reads the blocks of the approvals, contacts and incident sections into the draft."""

    def __init__(self, blocks: list[Block], draft: Draft, consumed: set[int]) -> None:
        self.blocks = blocks
        self.draft = draft
        self.consumed = consumed
        """Blocks read as part of another (an incident step's nested actions): the walk skips them."""
        self.role_ids: set[str] = set()
        self.contact_methods: dict[str, str] = {}
        """How to reach whom, from the contacts tables (for the stages' "Who to Call" lists)."""
        for block in blocks:
            if block.kind == "table" and len(block.rows) > 1 and rx.column(block.rows[0], rx.METHOD_COLUMN) is not None:
                contact = rx.column(block.rows[0], rx.CONTACT_COLUMN)
                method = rx.column(block.rows[0], rx.METHOD_COLUMN)
                if contact is not None and method is not None:
                    for row in block.rows[1:]:
                        if row[contact] and row[method]:
                            self.contact_methods.setdefault(row[contact].lower(), row[method])

    # ----------------------------------------------------------------- approvals

    def approvals_block(self, block: Block) -> None:
        if block.kind == "table" and approver_columns(block):
            self.approvers_table(block)
        elif block.kind == "item" and block.text:
            handle, _, title = block.text.partition("(")
            title = title.rstrip(")").strip()
            if ":" in block.text and not title:
                title, _, handle = block.text.partition(":")
            self.approver(handle.strip(), title.strip() or handle.strip(), block.line)
        elif block.kind == "para" and re.search(r"do not proceed|all .* (?:checked|signed|approved)", block.text, re.I):
            self.draft.note(block, "note: the approval gate holds the first stage until every approver has signed")
        else:
            self.draft.note(block)

    def approvers_table(self, block: Block) -> None:
        header = block.rows[0]
        handle, role = approver_columns(block) or (0, None)
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

    def contacts_block(self, block: Block) -> None:
        if block.kind == "table":
            self.contacts_table(block, self.draft.contacts, None)
        elif block.kind == "item" and block.text:
            self.contact_item(block, self.draft.contacts, None)
        else:
            self.draft.note(block)

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
                self.draft.note(block, "note: an incident opens on a kill or a breach")
            else:
                self.draft.note(block)
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
                codes += [ln.strip() for ln in child.text.splitlines() if ln.strip() and not comment_line(ln)]
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


def _disables_flags(first: str, codes: list[str]) -> bool:
    """A step that turns the rollout's flags off: the kill switch does it."""
    return bool(rx.DISABLE.search(first)) or any(not on for code in codes for _, on in rx.flag_mentions(code))


def _inside(blocks: list[Block], j: int, ancestor: int) -> bool:
    parent = blocks[j].parent
    seen = 0
    while parent is not None and seen < 64:
        if parent == ancestor:
            return True
        parent = blocks[parent].parent
        seen += 1
    return False


def approver_columns(block: Block) -> tuple[int | None, int | None] | None:
    if len(block.rows) < 2:
        return None
    header = block.rows[0]
    handle = rx.column(header, rx.HANDLE_COLUMN)
    role = rx.column(header, rx.ROLE_COLUMN, avoid=(() if handle is None else (handle,)))
    if handle is None and role is None:
        return None
    return handle, role
