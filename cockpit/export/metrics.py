"""The Actual column of the export's threshold tables: the value at gate time and the soak's figures."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from cockpit.events import format_time
from cockpit.plan.model import Metric, Plan, Stage, ThresholdRule
from cockpit.plan.thresholds import relative_change
from cockpit.state import RolloutState
from cockpit.store.history import History, Sample, percentile


def when(at: datetime | None) -> str:
    """``2024-12-12T14:02:00Z`` (seconds precision, UTC), or ``""``."""
    return "" if at is None else format_time(at)[:19] + "Z"


def row_unit(rule: ThresholdRule, metric: Metric) -> str:
    """The one unit of a threshold row: ``% change`` (relative), ``/hour`` (rate), else the metric's."""
    kind = rule.threshold.kind
    return "% change" if kind == "relative" else "/hour" if kind == "rate" else "" if kind == "text" else metric.unit


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
    """One row of a stage's threshold table, every figure in the row's one unit (:func:`row_unit`).

    Actual, Min, Max, p50 and p99 are what the threshold judges: the change against the baseline for a
    relative threshold, the per-hour rate for a rate; the metric's own range (``absolute``) has its own
    labelled column. Samples counts every good sample of the window, text ones included.
    """
    metric = plan.metrics[rule.metric]
    kind = rule.threshold.kind
    row: dict[str, Any] = {
        "metric": rule.metric,
        "label": rule.label,
        "threshold": str(rule.threshold),
        "kind": kind,
        "unit": row_unit(rule, metric),
        "metric_unit": metric.unit,
        "at_gate": "",
        "at_gate_time": "",
        "ok": "",
        "no_data": "",
        "count": 0,
        "min": "",
        "max": "",
        "p50": "",
        "p99": "",
        "absolute": {"min": "", "max": "", "unit": ""},
        "breaches": sum(1 for b, _ in state.breach_log if b.metric == rule.metric and b.stage in ("", stage.id)),
    }
    if kind == "relative" and rule.metric not in state.baseline:
        row["no_data"] = "no baseline"
    if history is None or start is None or end is None:
        return row
    lookback = metric.rate_window if kind == "rate" else timedelta(0)
    samples = [s for s in history.samples(rule.metric, start - lookback, end) if s.ok]
    in_window = [s for s in samples if s.at >= start]
    row["count"] = len(in_window)
    figures = judged_series(rule, metric, state, samples, start)
    if figures:
        ordered = sorted(figures)
        row.update(
            min=round(ordered[0], 3),
            max=round(ordered[-1], 3),
            p50=round(percentile(ordered, 50), 3),
            p99=round(percentile(ordered, 99), 3),
        )
    if kind in ("relative", "rate"):
        raw = sorted(float(s.value) for s in in_window if isinstance(s.value, float | int))
        if raw:
            row["absolute"] = {"min": raw[0], "max": raw[-1], "unit": "count" if kind == "rate" else metric.unit}
    if gate is not None:
        value, at = gate_value(history, metric, rule, state, rule.metric, gate)
        if value != "":
            row.update(at_gate=value, at_gate_time=when(at), ok=rule.threshold.holds(value))
    return row


def judged_series(
    rule: ThresholdRule, metric: Metric, state: RolloutState, samples: list[Sample], start: datetime
) -> list[float]:
    """The figure the threshold judges at each good numeric sample from ``start`` on: the value, its
    change against the baseline, or the per-hour rate over the metric's rate window (``samples`` reach
    back one window before ``start`` for it)."""
    kind = rule.threshold.kind
    numeric = [
        (s.at, float(s.value)) for s in samples if isinstance(s.value, float | int) and not isinstance(s.value, bool)
    ]
    if kind == "text":
        return []
    if kind == "relative":
        base = state.baseline.get(rule.metric)
        return [] if base is None else [relative_change(v, base.value) for at, v in numeric if at >= start]
    if kind == "rate":
        rates = []
        first = 0
        for at, value in numeric:
            while numeric[first][0] < at - metric.rate_window:
                first += 1
            hours = (at - numeric[first][0]).total_seconds() / 3600
            if at >= start and hours > 0:
                rates.append((value - numeric[first][1]) / hours)
        return rates
    return [v for at, v in numeric if at >= start]


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
