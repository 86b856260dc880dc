"""``cockpit export --verify FILE``: does an export still match the audit log?

The export records the log's event count and chain-head hash. It matches when the current log has
an event with that sequence number and that hash (the chain makes the hash cover every event before
it); the chain up to there is re-hashed too, so an edit, deletion or fork before the recorded head is
found and later events are fine.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from cockpit.events import GENESIS, event_hash
from cockpit.export.markdown import COUNT_LABEL, HEAD_LABEL
from cockpit.store.audit import EventStore
from cockpit.store.files import UnsafeFile, describe_os_error, open_regular


class ExportUnreadable(ValueError):
    """The file is not an export this command can read."""


@dataclass(frozen=True)
class Recorded:
    count: int
    head: str


MAX_EXPORT = 64 << 20
"""The largest export ``--verify`` reads (a sign-off is tens of KiB; this bounds a device or a mistake)."""


def read_recorded(path: Path) -> Recorded:
    """The event count and head hash an export file recorded (json/toml by extension, else Markdown)."""
    try:
        fd = open_regular(path, os.O_RDONLY)
        try:
            with os.fdopen(os.dup(fd), "rb") as fh:
                raw = fh.read(MAX_EXPORT + 1)
        finally:
            os.close(fd)
        if len(raw) > MAX_EXPORT:
            raise ExportUnreadable(f"{path}: larger than {MAX_EXPORT >> 20} MiB: not a cockpit export")
        text = raw.decode("utf-8")
    except UnsafeFile as exc:
        raise ExportUnreadable(str(exc)) from None
    except OSError as exc:
        raise ExportUnreadable(f"{path}: cannot read: {describe_os_error(exc)}") from None
    except UnicodeDecodeError as exc:
        raise ExportUnreadable(f"{path}: cannot read: not UTF-8 ({exc.reason})") from None
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
    """The export's own ``Audit log events:`` / ``Audit log head:`` lines: the last ones, at a line's start
    (record text is escaped so that it can never put either there; see ``cockpit.export.markdown.md``)."""
    counts = re.findall(rf"^{re.escape(COUNT_LABEL)}[ \t]*(\d+)[ \t]*$", text, re.MULTILINE)
    heads = re.findall(rf"^{re.escape(HEAD_LABEL)}[ \t]*`?([0-9a-f]{{64}})`?[ \t]*$", text, re.MULTILINE)
    if not counts or not heads:
        raise ExportUnreadable(f"{path}: no '{COUNT_LABEL}' and '{HEAD_LABEL}' lines: not a cockpit export")
    return Recorded(int(counts[-1]), heads[-1])


def first_difference(recorded: Recorded, store: EventStore) -> str | None:
    """None when the log's chain is intact up to the recorded count and ends in the recorded head;
    else the first difference, in one line."""
    if recorded.count == 0:
        return None
    events = store.read(0)[: recorded.count]
    prev = GENESIS
    for expected_seq, event in enumerate(events, start=1):
        if event.seq != expected_seq:
            return f"the audit log has event {event.seq} where event {expected_seq} should be (deleted or reordered)"
        if event.prev != prev or event_hash(event) != event.hash:
            return f"event {event.seq} ({event.type}) was changed after it was written: its hash does not match"
        prev = event.hash
    if len(events) < recorded.count:
        return f"the export records {recorded.count} events but the audit log has only {len(events)}"
    if prev != recorded.head:
        return (
            f"event {recorded.count} differs: the export records head {recorded.head[:16]}…, "
            f"the audit log has {prev[:16]}… (the log is not the one exported)"
        )
    return None
