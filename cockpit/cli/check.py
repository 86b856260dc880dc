"""The body of ``cockpit check``: poll once, judge the rows, print a table or JSON, pick the exit code.

Imported by the ``check`` handler in :mod:`cockpit.cli.metrics` when it runs, so the other commands
never load httpx or asyncio through it.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import Any

from cockpit.cli.exits import EXIT_BREACH, EXIT_OK, EXIT_UNKNOWN
from cockpit.monitor import Monitor, json_safe
from cockpit.plan.model import Plan, Stage, ThresholdRule, format_duration
from cockpit.readings import TABLE, TABLE_CHANGE, format_reading
from cockpit.rollout import Rollout
from cockpit.rules import Judgement, Status
from cockpit.store.history import History, Sample

PROGRESS_AFTER = 1.0
"""Seconds before ``check`` tells stderr which sources it is still waiting for."""


def exit_code(judgements: Sequence[Judgement]) -> int:
    statuses = {j.status for j in judgements}
    if Status.BREACH in statuses:
        return EXIT_BREACH
    if statuses - {Status.OK, Status.WARN}:
        return EXIT_UNKNOWN
    return EXIT_OK


def _rows_for(plan: Plan, stage: Stage | None) -> list[ThresholdRule]:
    if stage is not None:
        return list(stage.thresholds)
    seen: dict[tuple[str, str], ThresholdRule] = {}
    for s in plan.stages:
        for rule in s.thresholds:
            seen.setdefault((rule.metric, str(rule.threshold)), rule)
    return list(seen.values())


def _unjudged(name: str, title: str, unit: str, sample: Sample) -> Judgement:
    """A metric no threshold row covers (``--all``): shown, never green."""
    if sample.error:
        status, reason = Status.ERROR, sample.error
    elif sample.value is None:
        status, reason = Status.NO_DATA, "the source returned no data (empty result)"
    else:
        status, reason = Status.WARN, "no threshold row judges this metric"
    at = sample.at if sample.ok else None
    return Judgement(name, title, status, sample.value, sample.value, "-", unit, reason, at, None)


async def _progress(monitor: Monitor) -> None:
    await asyncio.sleep(PROGRESS_AFTER)
    while monitor.in_flight:
        print(f"cockpit check: waiting for {', '.join(sorted(monitor.in_flight))}...", file=sys.stderr, flush=True)
        await asyncio.sleep(2.0)


async def check(
    rollout: Rollout, history: History, stage_id: str | None, every: bool, *, progress: bool = False
) -> list[Judgement]:
    """Poll the metrics the rows need (all with ``every``) once, concurrently; judge the rows."""
    monitor = Monitor(rollout, history)
    try:
        stage = None if every else monitor.stage(stage_id)
        rules = _rows_for(rollout.plan, stage)
        names = list(rollout.plan.metrics) if every else list(dict.fromkeys(r.metric for r in rules))
        watcher = asyncio.create_task(_progress(monitor)) if progress else None
        try:
            samples = await monitor.poll_once(names)
        finally:
            if watcher is not None:
                watcher.cancel()
        if stage is not None:
            judgements = monitor.judge(stage.id)
        else:
            unique: dict[tuple[str, str], Judgement] = {}
            for s in rollout.plan.stages:
                for j in monitor.judge(s.id):
                    unique.setdefault((j.metric, j.threshold), j)
            judgements = list(unique.values())
            covered = {r.metric for r in rules}
            for name, sample in samples.items():
                if name not in covered:
                    m = rollout.plan.metrics[name]
                    judgements.append(_unjudged(name, m.title, m.unit, sample))
        return judgements
    finally:
        await monitor.aclose()


def _value(j: Judgement) -> str:
    if j.value is None and j.raw is not None:
        return str(j.raw)  # no judged figure (an error, a stale sample): the last reading, as it came
    change = j.unit == "%" and j.threshold.lstrip("<>=! ").startswith(("+", "-"))  # against the baseline
    return format_reading(j.value, j.unit, TABLE_CHANGE if change else TABLE)


def judgement_dict(j: Judgement) -> dict[str, Any]:
    return {
        "metric": j.metric,
        "label": j.label,
        "status": str(j.status),
        "value": json_safe(j.value),
        "raw": json_safe(j.raw),
        "threshold": j.threshold,
        "unit": j.unit,
        "reason": j.reason,
        "at": j.at.isoformat() if j.at else None,
        "age_seconds": j.age.total_seconds() if j.age is not None else None,
    }


def print_table(judgements: Sequence[Judgement]) -> None:
    header = ("METRIC", "VALUE", "THRESHOLD", "STATUS", "AGE", "REASON")
    rows = [
        (j.label, _value(j), j.threshold, str(j.status), format_duration(j.age) if j.age is not None else "-", j.reason)
        for j in judgements
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:5], widths, strict=True)) + "  " + row[5])
