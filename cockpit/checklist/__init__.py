"""``cockpit plan import``: a team's Markdown rollout checklist as a draft plan.

The checklist is read with markdown-it's token stream (:mod:`~cockpit.checklist.blocks`), each block is
recognised (:mod:`~cockpit.checklist.recognise`, :mod:`~cockpit.checklist.code`) and mapped to plan data
(:mod:`~cockpit.checklist.mapping`, :mod:`~cockpit.checklist.sections`, :mod:`~cockpit.checklist.stages`); the draft is written as commented TOML
(:mod:`~cockpit.checklist.write`) and explained line by line (:mod:`~cockpit.checklist.report`).
What the checklist cannot say (where a metric is read, the flag system) is written ``source = "unwired"``
with a ``# TODO``; nothing in the checklist is dropped: a line no recogniser knows stays a note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cockpit.checklist.blocks import parse_blocks
from cockpit.checklist.draft import Draft
from cockpit.checklist.mapping import Mapper
from cockpit.checklist.report import render_report
from cockpit.checklist.write import write_toml
from cockpit.secrets import REF

MAX_BYTES = 8 * 1024 * 1024
"""A checklist larger than this is refused (they are a few hundred lines)."""


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
"""Control and bidi characters: a checklist's text reaches terminals through the plan (titles, items)."""


class ChecklistError(ValueError):
    """The checklist cannot become a plan; the message is one line for the operator."""


@dataclass(frozen=True)
class Imported:
    draft: Draft
    data: dict[str, Any]
    """The plan as plain data (what ``toml`` holds)."""
    toml: str

    def report(self, output: str = "-") -> str:
        return render_report(self.draft, output)


def import_checklist(text: str, name: str = "checklist.md") -> Imported:
    """The draft plan of a checklist; raise :class:`ChecklistError` when there is nothing to import."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # the lines markdown-it numbers
    if not text.strip():
        raise ChecklistError(f"{name}: empty file: nothing to import")
    draft = Draft(name, text.split("\n"))
    Mapper(parse_blocks(text), draft).run()
    if not draft.stages:
        raise ChecklistError(
            f"{name}: no stage, checklist item or numbered step found: nothing to import "
            "(write the steps as '- [ ] …' or '1. …', under '## Stage N: …' headings if there are several)"
        )
    data = _defused(draft.data())
    return Imported(draft, data, write_toml(draft, data))


def _defused(value: Any) -> Any:
    """Checklist text with its ``${VAR}`` written ``$VAR`` (in the plan a ``${VAR}`` is resolved from the
    environment, and an unset one is an error: not what a checklist's prose and shell lines mean) and its
    control and bidi characters as ``?``."""
    if isinstance(value, str):
        return _CONTROL.sub("?", REF.sub(_defuse, value))
    if isinstance(value, dict):
        return {k: _defused(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_defused(v) for v in value]
    return value


def _defuse(m: re.Match[str]) -> str:
    if m["default"] is not None:
        return m[0]
    follows = m.string[m.end() : m.end() + 1]
    return f"${m['name']}" if not (follows.isalnum() or follows == "_") else f"${{{m['name']}:-}}"


__all__ = ["MAX_BYTES", "ChecklistError", "Imported", "import_checklist"]
