"""``cockpit export --verify FILE``: does an export still match the audit log, and is it what was written?

The export records the log's event count and chain-head hash. The log matches when it has an event with that
sequence number and that hash (the chain makes the hash cover every event before it); the chain up to there
is re-hashed too, so an edit, deletion or fork before the recorded head is found and later events are fine.
The file's content is vouched for only when the log's ``export.written`` event for it holds its SHA-256: a
file changed after it was written, or one the log has no record of (an export to stdout), is not.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from cockpit import events as ev
from cockpit.events import Event
from cockpit.export.markdown import COUNT_LABEL, HEAD_LABEL
from cockpit.store.audit import EventStore, chain_problem
from cockpit.store.files import UnsafeFile, describe_os_error, open_regular


class ExportUnreadable(ValueError):
    """The file is not an export this command can read."""


@dataclass(frozen=True)
class Recorded:
    count: int
    head: str
    sha256: str = ""
    """The file's own SHA-256 (of its bytes as read)."""


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
        digest = hashlib.sha256(raw).hexdigest()
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
            return replace(_from_markdown(path, text), sha256=digest)
        audit = data["audit"]
        return Recorded(int(audit["count"]), str(audit["head"]), digest)
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
    problem = chain_problem(events)  # the same walk every reader makes
    if problem is not None:
        at = events[problem.line - 1] if problem.line <= len(events) else None
        if problem.kind == "edited" and at is not None:
            return f"event {at.seq} ({at.type}) was changed after it was written: its hash does not match"
        return f"the audit log's chain breaks at event {problem.line}: {problem.kind}: {problem.message}"
    if len(events) < recorded.count:
        return f"the export records {recorded.count} events but the audit log has only {len(events)}"
    head = events[-1].hash
    if head != recorded.head:
        return (
            f"event {recorded.count} differs: the export records head {recorded.head[:16]}…, "
            f"the audit log has {head[:16]}… (the log is not the one exported)"
        )
    return None


def content_difference(recorded: Recorded, events: Sequence[Event]) -> str | None:
    """None when an ``export.written`` event of the log holds the file's SHA-256; else why the file's content
    cannot be vouched for, in one line."""
    written = [e for e in events if e.type == ev.EXPORT_WRITTEN]
    if any(e.payload.get("sha256") == recorded.sha256 for e in written):
        return None
    if any(e.payload.get("count") == recorded.count and e.payload.get("sha256") for e in written):
        return (
            "it was changed after it was written: the export of that head the log records has another content "
            f"(this file's sha256 {recorded.sha256[:16]}…)"
        )
    return (
        "its content is not on record (no export.written event holds its sha256: an export to stdout, or written "
        "by an older release): write it with 'cockpit export -o FILE' to have its content recorded"
    )
