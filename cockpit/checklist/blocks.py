"""A Markdown checklist as a flat list of blocks with their source lines, read from markdown-it's token stream.

Headings, list items (task boxes ``- [ ]`` / ``- [x]``, bullets, numbered steps), paragraphs, tables, code
blocks, HTML blocks and rules; each knows the lines it spans, so every recogniser can say which checklist
line became which plan key, and nothing is left unaccounted for. Nested blocks (a code block or a list
inside a numbered step) name the item they sit in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.token import Token

BlockKind = Literal["heading", "item", "para", "table", "code", "html", "rule"]

_TASK = re.compile(r"^\[( |x|X)\]\s+")


@dataclass
class Block:
    """One block of the checklist. Lines are 1-based; ``end`` is the last line it spans."""

    kind: BlockKind
    line: int
    end: int
    text: str = ""
    """Heading, item or paragraph text (inline Markdown rendered: emphasis markers gone, code kept in
    backticks); a code or HTML block's content."""
    level: int = 0
    """A heading's level (1 for ``#``); an item's nesting depth (0 for a top-level list)."""
    checked: bool | None = None
    """A task item's box; None for a plain bullet or numbered step."""
    ordered: bool = False
    lang: str = ""
    """A code block's info string (``bash``, ``sql``)."""
    rows: list[list[str]] = field(default_factory=list)
    """A table's cells, header first; every row as wide as the header."""
    row_lines: list[int] = field(default_factory=list)
    """The source line of each row of ``rows``."""
    parent: int | None = None
    """Index (in the block list) of the list item this block is nested in."""


def render_inline(token: Token) -> str:
    """An inline token as text: emphasis markers dropped, code spans kept in backticks, breaks as newlines."""
    out: list[str] = []
    for child in token.children or ():
        if child.type in ("text", "html_inline"):
            out.append(child.content)
        elif child.type == "code_inline":
            out.append(f"{child.markup}{child.content}{child.markup}")
        elif child.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif child.type == "image":
            out.append(child.content)
    return "".join(out)


_PARSER = MarkdownIt("commonmark", {"html": True}).enable("table")


def parse_blocks(text: str) -> list[Block]:
    """The checklist's blocks in source order."""
    tokens = _PARSER.parse(text)
    blocks: list[Block] = []
    lists: list[bool] = []  # ordered? per open list
    items: list[int | None] = []  # index of the item block of each open list item (None until its text)
    pending_item: list[tuple[int, int]] = []  # (start, end) lines of each open list item
    table: Block | None = None
    row: list[str] | None = None
    i = 0

    def parent() -> int | None:
        return next((p for p in reversed(items) if p is not None), None)

    def span(tok: Token) -> tuple[int, int]:
        start, end = tok.map or (0, 1)
        return start + 1, max(end, start + 1)

    while i < len(tokens):
        tok = tokens[i]
        kind = tok.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            lists.append(kind == "ordered_list_open")
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif kind == "list_item_open":
            items.append(None)
            pending_item.append(span(tok))
        elif kind == "list_item_close":
            if items and items[-1] is None:  # an empty item ("- [ ]" alone, "1.") still is one
                start, _ = pending_item[-1]
                blocks.append(Block("item", start, start, "", len(lists) - 1, None, lists[-1], parent=parent()))
            items.pop()
            pending_item.pop()
        elif kind == "heading_open":
            start, end = span(tok)
            blocks.append(Block("heading", start, end, render_inline(tokens[i + 1]).strip(), int(tok.tag[1:])))
            i += 2
        elif kind == "paragraph_open":
            start, end = span(tok)
            content = render_inline(tokens[i + 1])
            if items and items[-1] is None:  # the item's own text
                checked = None
                m = _TASK.match(content)
                if m:
                    checked = m[1] != " "
                    content = content[m.end() :]
                item_start, _ = pending_item[-1]
                blocks.append(
                    Block("item", item_start, end, content.strip(), len(lists) - 1, checked, lists[-1], parent=parent())
                )
                items[-1] = len(blocks) - 1
            else:
                blocks.append(Block("para", start, end, content.strip(), parent=parent()))
            i += 2
        elif kind in ("fence", "code_block"):
            start, end = span(tok)
            blocks.append(
                Block("code", start, end, tok.content, lang=tok.info.strip().split(" ")[0].lower(), parent=parent())
            )
        elif kind == "html_block":
            start, end = span(tok)
            blocks.append(Block("html", start, end, tok.content, parent=parent()))
        elif kind == "hr":
            start, end = span(tok)
            blocks.append(Block("rule", start, end))
        elif kind == "table_open":
            start, end = span(tok)
            table = Block("table", start, end, parent=parent())
        elif kind == "tr_open":
            row = []
            if table is not None:
                table.row_lines.append(span(tok)[0])
        elif kind == "inline" and row is not None:
            row.append(render_inline(tok).strip())
        elif kind == "tr_close" and table is not None and row is not None:
            table.rows.append(row)
            row = None
        elif kind == "table_close" and table is not None:
            width = len(table.rows[0]) if table.rows else 0
            table.rows = [(r + [""] * width)[:width] for r in table.rows]
            blocks.append(table)
            table = None
        i += 1
    return blocks
