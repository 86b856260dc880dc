"""The fleet's line as text: the cells ``cockpit fleet --once`` prints and the fleet screen shows.

Everything in a line may come from another machine (a rollout id, a plan's titles, a breach's value):
:func:`printable` makes it inert before it reaches a terminal, and bounds it.
"""

from __future__ import annotations

import re
from datetime import timedelta

from cockpit.fleet.row import FleetRow, short_age

COLUMNS = ("", "ROLLOUT", "SERVICE", "STAGE", "CANARY", "GATE", "WAITING ON", "METRICS", "KILL", "LAST")
"""The cells of a line, in order (the first is the "needs a human" mark; STAGE carries the soak's progress)."""

WIDTHS = {"": 1, "ROLLOUT": 16, "SERVICE": 24, "STAGE": 20, "CANARY": 16, "GATE": 8, "METRICS": 11, "KILL": 14,
          "LAST": 4}  # fmt: skip
"""Cells of a screen column; WAITING ON takes what is left."""
WIDE = {"SERVICE": 150, "CANARY": 150, "STAGE": 100, "GATE": 100}
"""The terminal width from which a column is shown (narrower, the detail line under the table has it)."""

OLD_ARM_CHECK = timedelta(minutes=5)
"""A cockpit re-checks its flags every minute (``arm_interval``): an older ARMED shows its age."""
ZERO = timedelta(0)

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
MAX_CELL = 200


def printable(text: str, limit: int = MAX_CELL) -> str:
    """``text`` with control and bidi characters replaced by ``?``, cut to ``limit`` characters."""
    text = _UNSAFE.sub("?", str(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def age(delta: timedelta | None) -> str:
    return "—" if delta is None else short_age(delta)


def waiting_text(row: FleetRow) -> str:
    """Who the rollout waits on, the human things first; ``—`` for nothing."""
    ordered = [w for w in row.waiting if w.human] + [w for w in row.waiting if not w.human]
    return "; ".join(w.text for w in ordered) or "—"


def metric_text(row: FleetRow) -> str:
    """The worst status, with its age only once it is stale (a fresh one is re-published every few seconds:
    its age would tick on every line, every second)."""
    if not row.metric and row.metric_at is None:
        return "—"
    if row.metric_stale:
        return f"{row.metric or '—'} {age(row.age(row.metric_at))} STALE"
    return row.metric or "—"


def kill_text(row: FleetRow) -> str:
    """ARMED / NOT ARMED with the check's age once it is older than :data:`OLD_ARM_CHECK`; a kill's age always."""
    shown = row.kill_at is not None and (row.kill.startswith("KILL") or (row.age(row.kill_at) or ZERO) > OLD_ARM_CHECK)
    return f"{row.kill} {age(row.age(row.kill_at))}" if shown else row.kill


def flags_text(row: FleetRow) -> str:
    return " ".join(f"{f.name.removeprefix('FEATURE_FLAG_')}:{f.percent if f.enabled else 'off'}" for f in row.flags)


def cells(row: FleetRow) -> tuple[str, ...]:
    """The line's cells, in :data:`COLUMNS` order, each printable."""
    mark = "!" if row.urgency >= 4 else ("●" if row.needs_human else " ")
    service = " ".join(part for part in (row.service, row.version) if part) or "—"
    stage = row.stage_id or ("done" if row.gate == "COMPLETE" else "—")
    values = (
        mark,
        row.id + (" (ro)" if row.readonly else ""),
        service,
        f"{stage} {row.soak}" if row.soak else stage,
        flags_text(row) or "—",
        row.gate,
        waiting_text(row),
        metric_text(row),
        kill_text(row),
        age(row.age(row.last_event)),
    )
    return tuple(printable(v) for v in values)


def table(rows: list[FleetRow]) -> str:
    """The fleet as a plain text table (``cockpit fleet --once``), one line per rollout."""
    lines = [COLUMNS, *(cells(row) for row in rows)]
    caps = (1, 32, 40, 32, 36, 8, 400, 20, 20, 6)
    widths = [min(max(len(line[i]) for line in lines), caps[i]) for i in range(len(COLUMNS))]
    out = []
    for line in lines:
        parts = [cell if len(cell) <= w else cell[: w - 1] + "…" for cell, w in zip(line, widths, strict=True)]
        out.append("  ".join(p.ljust(w) for p, w in zip(parts, widths, strict=True)).rstrip())
    return "\n".join(out)


def layout(width: int, padding: int = 2) -> list[tuple[str, int]]:
    """The screen's columns at ``width`` cells: (name, cells), WAITING ON taking what the others leave."""
    shown = [c for c in COLUMNS if width >= WIDE.get(c, 0)]
    fixed = sum(WIDTHS[c] for c in shown if c != "WAITING ON") + padding * len(shown) + 2  # + the scrollbar
    return [(c, WIDTHS.get(c, max(width - fixed, 16))) for c in shown]
