"""What a running cockpit publishes for the fleet view: its latest judgements, the kill switch's last arm
check, and the plan it runs. Not audit events (they are re-written, not appended): one record of each kind
per rollout, kept beside the samples (the ``records`` table of the SQLite history, ``cockpit_records`` on
PostgreSQL), read by ``cockpit fleet`` without polling any metric source itself.

Bodies are plain JSON objects; this module is the one place that encodes and decodes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

JUDGED = "judged"
"""The latest judging round: the stage and each threshold row's status."""
ARMED = "armed"
"""The latest arm check of the kill switch: ARMED / NOT ARMED and why."""
PLAN = "plan"
"""The plan the cockpit runs, as plain data (``${VAR}`` references unresolved: no secret in it)."""
KINDS = (JUDGED, ARMED, PLAN)

MAX_BODY = 256 * 1024
"""Bytes; a longer body is not read (a record is data from another machine: bounded)."""


@dataclass(frozen=True)
class Record:
    """One published record: its kind, when it was written, and its body."""

    kind: str
    at: datetime
    body: dict[str, Any]


@dataclass(frozen=True)
class JudgedRow:
    """One threshold row as the cockpit judged it."""

    metric: str
    label: str
    status: str
    reason: str = ""


@dataclass(frozen=True)
class Judged:
    """A judging round: which stage, each row, and who judged (``user@host``)."""

    at: datetime
    stage: str
    rows: tuple[JudgedRow, ...]
    by: str = ""


@dataclass(frozen=True)
class Armed:
    """The kill switch's last arm check."""

    at: datetime
    armed: bool
    reason: str = ""
    by: str = ""


def encode(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def decode(text: str | None) -> dict[str, Any] | None:
    """A body read back, or None for one that is missing, too long or not a JSON object."""
    if not text or len(text) > MAX_BODY:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def judged_body(stage: str, rows: list[JudgedRow], by: str) -> dict[str, Any]:
    return {
        "stage": stage,
        "by": by,
        "rows": [{"metric": r.metric, "label": r.label, "status": r.status, "reason": r.reason} for r in rows],
    }


def read_judged(record: Record | None) -> Judged | None:
    if record is None:
        return None
    try:
        rows = tuple(
            JudgedRow(str(r["metric"]), str(r.get("label", r["metric"])), str(r["status"]), str(r.get("reason", "")))
            for r in record.body.get("rows", [])
        )
        return Judged(record.at, str(record.body.get("stage", "")), rows, str(record.body.get("by", "")))
    except (KeyError, TypeError, AttributeError):
        return None


def armed_body(armed: bool, reason: str, by: str) -> dict[str, Any]:
    return {"armed": bool(armed), "reason": reason, "by": by}


def read_armed(record: Record | None) -> Armed | None:
    if record is None or not isinstance(record.body.get("armed"), bool):
        return None
    return Armed(
        record.at, bool(record.body["armed"]), str(record.body.get("reason", "")), str(record.body.get("by", ""))
    )


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
