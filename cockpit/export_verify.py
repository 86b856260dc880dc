"""``cockpit export --verify FILE``: does an export still match the audit log?

The export records the log's event count and chain-head hash. It matches when the current log has
an event with that sequence number and that hash (the chain makes the hash cover every event before
it), so later events are fine and any edit, deletion or fork before the recorded head is found.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from cockpit.audit import EventStore
from cockpit.export_md import COUNT_LABEL, HEAD_LABEL


class ExportUnreadable(ValueError):
    """The file is not an export this command can read."""


@dataclass(frozen=True)
class Recorded:
    count: int
    head: str


def read_recorded(path: Path) -> Recorded:
    """The event count and head hash an export file recorded (json/toml by extension, else Markdown)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportUnreadable(f"{path}: cannot read: {exc}") from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(text)
        elif suffix == ".toml":
            data = tomllib.loads(text)
        else:
            return _from_markdown(path, text)
        audit = data["audit"]
        return Recorded(int(audit["count"]), str(audit["head"]))
    except (ValueError, KeyError, TypeError) as exc:
        kind = suffix.lstrip(".")
        raise ExportUnreadable(f"{path}: not a cockpit {kind} export ({type(exc).__name__}: {exc})") from None


def _from_markdown(path: Path, text: str) -> Recorded:
    count = re.search(rf"^{re.escape(COUNT_LABEL)}\s*(\d+)", text, re.MULTILINE)
    head = re.search(rf"^{re.escape(HEAD_LABEL)}\s*`?([0-9a-f]{{64}})`?", text, re.MULTILINE)
    if not count or not head:
        raise ExportUnreadable(f"{path}: no '{COUNT_LABEL}' and '{HEAD_LABEL}' lines: not a cockpit export")
    return Recorded(int(count[1]), head[1])


def first_difference(recorded: Recorded, store: EventStore) -> str | None:
    """None when the log has the recorded head at the recorded count; else what differs, in one line."""
    if recorded.count == 0:
        return None
    events = store.read(recorded.count - 1)
    if not events:
        count, _ = store.head()
        return f"the export records {recorded.count} events but the audit log has only {count}"
    event = events[0]
    if event.seq != recorded.count:
        return f"the audit log has event {event.seq} where the export expects event {recorded.count}"
    if event.hash != recorded.head:
        return (
            f"event {recorded.count} differs: the export records head {recorded.head[:16]}…, "
            f"the audit log has {event.hash[:16]}… (the log was changed before the exported head)"
        )
    return None
