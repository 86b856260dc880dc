"""The Actual column of the export's threshold tables: the value at gate time and the soak's figures."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from cockpit.events import format_time
from cockpit.plan.model import Metric, Plan, Stage, ThresholdRule
from cockpit.plan.thresholds import relative_change
from cockpit.state import RolloutState
from cockpit.store.history import History


def when(at: datetime | None) -> str:
    """``2024-12-12T14:02:00Z`` (seconds precision, UTC), or ``""``."""
    return "" if at is None else format_time(at)[:19] + "Z"


def threshold_row(
    plan: Plan,
    state: RolloutState,
    stage: Stage,
    rule: ThresholdRule,
    history: History | None,
    start: datetime | None,
    end: datetime | None,
    gate: datetime | None,
) -> dict[str, Any]:
    metric = plan.metrics[rule.metric]
    row: dict[str, Any] = {
        "metric": rule.metric,
        "label": rule.label,
        "threshold": str(rule.threshold),
        "kind": rule.threshold.kind,
        "unit": metric.unit,
        "at_gate": "",
        "at_gate_time": "",
        "ok": "",
        "count": 0,
        "min": "",
        "max": "",
        "p50": "",
        "p99": "",
        "breaches": sum(1 for b, _ in state.breach_log if b.metric == rule.metric and b.stage in ("", stage.id)),
    }
    if history is None or start is None or end is None:
        return row
    stats = history.stats(rule.metric, start, end)
    if stats is not None:
        row.update(count=stats.count, min=stats.min, max=stats.max, p50=stats.p50, p99=stats.p99)
    if gate is not None:
        value, at = gate_value(history, metric, rule, state, rule.metric, gate)
        if value != "":
            row.update(at_gate=value, at_gate_time=when(at), ok=rule.threshold.holds(value))
    return row


def gate_value(
    history: History, metric: Metric, rule: ThresholdRule, state: RolloutState, name: str, gate: datetime
) -> tuple[float | str, datetime | None]:
    """The value at gate time, as the threshold reads it: the latest good sample before ``gate``; a change
    in percent against the baseline for a relative threshold, a per-hour rate for a rate threshold."""
    window = metric.rate_window if rule.threshold.kind == "rate" else timedelta(days=1)
    good = [s for s in history.samples(name, gate - window, gate) if s.ok]
    if not good:
        return "", None
    last = good[-1]
    value = last.value
    assert value is not None
    if rule.threshold.kind == "text" or isinstance(value, str):
        return str(value), last.at
    if rule.threshold.kind == "relative":
        base = state.baseline.get(name)
        if base is None:
            return "", None
        return round(relative_change(float(value), base.value), 3), last.at
    if rule.threshold.kind == "rate":
        first = good[0]
        hours = (last.at - first.at).total_seconds() / 3600
        if hours <= 0 or first.value is None or isinstance(first.value, str):
            return "", None
        return round((float(value) - float(first.value)) / hours, 3), last.at
    return float(value), last.at
