"""Sign-off exports: Markdown for people, TOML and JSON for machines, all from one record.

The record is built by :mod:`cockpit.export.model`; Markdown is rendered by :mod:`cockpit.export.markdown`
(with plotext charts from :mod:`cockpit.export.chart`); checking an export against the log is
:mod:`cockpit.export.verify`. Writing an export to a file is audited (``export.written``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from cockpit import events as ev
from cockpit.events import Event
from cockpit.export.markdown import render_markdown
from cockpit.export.model import build_record
from cockpit.rollout import Rollout
from cockpit.store.audit import AuditError
from cockpit.store.files import write_atomic
from cockpit.store.history import History

Format = Literal["md", "toml", "json"]
FORMATS: tuple[Format, ...] = ("md", "toml", "json")


def render(record: dict[str, Any], fmt: Format, charts: dict[str, str] | None = None) -> str:
    """The record in one format."""
    if fmt == "json":
        return json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if fmt == "toml":
        import tomli_w

        return tomli_w.dumps(record)
    return render_markdown(record, charts)


def export_text(rollout: Rollout, fmt: Format, history: History | None = None) -> str:
    """The export of the rollout as it is now, secrets redacted (charts too, in Markdown). A record whose chain
    is broken gives no sign-off (AuditError): it would present what cannot be believed as the record."""
    rollout.refresh()
    if rollout.broken is not None:
        raise AuditError(f"no sign-off: {rollout.broken_message()}")
    record = build_record(rollout, history)
    charts: dict[str, str] = {}
    if fmt == "md" and history is not None:
        from cockpit.export.chart import build_charts  # lazy: plotext only when a Markdown export has charts

        charts = build_charts(record, history)
    text: str = rollout.loaded.env.redact(render(record, fmt, charts))
    return text


def write_export(
    rollout: Rollout, fmt: Format, path: Path, history: History | None = None, *, force: bool = True
) -> Event:
    """Write the export to ``path`` (temporary file, fsync, rename; an existing file only replaced with
    ``force``) and record ``export.written`` with the count and head the export shows."""
    data = export_text(rollout, fmt, history).encode()
    head = rollout.state
    write_atomic(path, data, overwrite=force)
    digest = hashlib.sha256(data).hexdigest()  # what export --verify vouches for
    return rollout.record(
        ev.EXPORT_WRITTEN,
        {"path": str(path), "format": fmt, "count": head.count, "head": head.head, "bytes": len(data), "sha256": digest},
    )


def format_for(path: Path | None, requested: str | None) -> Format:
    """``--format`` if given, else by the output file's extension, else Markdown."""
    if requested:
        return requested  # type: ignore[return-value]
    suffix = path.suffix.lower().lstrip(".") if path else ""
    return suffix if suffix in ("toml", "json") else "md"  # type: ignore[return-value]
