"""Judging a metric's recent samples against a threshold row. Only OK is green.

=============  =================================================================================
OK             the latest good sample is within the threshold (and the warn level)
WARN           within the threshold but past its warn level, or bad for fewer than
               ``metric.consecutive`` samples in a row
BREACH         bad for ``metric.consecutive`` samples in a row
STALE          the last good sample is older than ``plan.stale_after(metric)``
NO DATA        no sample yet, an empty result, or no baseline for a relative threshold
INCONCLUSIVE   a per-hour rate with too few samples or too short a span in its window
ERROR          the latest poll failed (the reason is the poll's error) or the value cannot be judged
NOT WIRED      the plan does not say where the metric is read (``source = "unwired"``): never polled
=============  =================================================================================

Samples hold values already in the metric's unit (the monitor applies ``metric.scale`` when polling).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cockpit.plan.model import Metric, ThresholdRule, format_duration
from cockpit.plan.thresholds import Threshold, relative_change
from cockpit.readings import REASON, REASON_CHANGE, format_reading
from cockpit.state import BaselineValue
from cockpit.store.history import Sample

MIN_RATE_SPAN_FRACTION = 0.1
"""A rate needs its samples to span at least this fraction of ``rate_window``."""


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    BREACH = "BREACH"
    STALE = "STALE"
    NO_DATA = "NO DATA"
    INCONCLUSIVE = "INCONCLUSIVE"
    ERROR = "ERROR"
    NOT_WIRED = "NOT WIRED"

    @property
    def green(self) -> bool:
        return self is Status.OK


SEVERITY = {
    Status.OK: 0,
    Status.WARN: 1,
    Status.INCONCLUSIVE: 2,
    Status.NO_DATA: 3,
    Status.STALE: 4,
    Status.ERROR: 5,
    Status.NOT_WIRED: 5,
    Status.BREACH: 6,
}


@dataclass(frozen=True)
class Judgement:
    metric: str
    label: str
    status: Status
    value: float | str | None
    """The judged figure: the per-hour rate, the % change against the baseline, or the raw value."""
    raw: float | str | None
    """The latest good sample's value, in the metric's unit."""
    threshold: str
    unit: str
    """Unit of ``value``: ``/hour``, ``%`` for a change, else the metric's unit."""
    reason: str
    at: datetime | None
    """Time of the latest good sample."""
    age: timedelta | None


class _Unjudgeable(Exception):
    def __init__(self, status: Status, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def per_hour_rate(samples: list[Sample], end: datetime, window: timedelta, min_samples: int) -> float:
    """Increase per hour between the oldest and newest good sample in ``(end - window, end]``.

    A drop between two samples is a counter reset: the later value counts as the increase since it.
    """
    points = [
        (s.at, float(s.value))
        for s in samples
        if s.ok and isinstance(s.value, float | int) and end - window <= s.at <= end
    ]
    if len(points) < min_samples or len(points) < 2:
        raise _Unjudgeable(
            Status.INCONCLUSIVE,
            f"{len(points)} sample(s) in the {format_duration(window)} window; a rate needs {max(min_samples, 2)}",
        )
    span = points[-1][0] - points[0][0]
    if span < window * MIN_RATE_SPAN_FRACTION:
        raise _Unjudgeable(
            Status.INCONCLUSIVE,
            f"samples span {format_duration(span)}; a rate needs {format_duration(window * MIN_RATE_SPAN_FRACTION)}",
        )
    increase = 0.0
    for (_, before), (_, after) in itertools.pairwise(points):
        increase += after - before if after >= before else after
    return increase / (span.total_seconds() / 3600)


def _figure_fn(
    threshold: Threshold, metric: Metric, samples: list[Sample], baseline: BaselineValue | None
) -> Callable[[int], float | str]:
    """A function giving the judged figure at good sample ``i`` (index into ``samples``)."""

    def figure(i: int) -> float | str:
        sample = samples[i]
        value = sample.value
        if threshold.kind == "text":
            return str(value)
        if not isinstance(value, float | int) or isinstance(value, bool):
            raise _Unjudgeable(Status.ERROR, f"non-numeric value {value!r}")
        if not math.isfinite(value):
            raise _Unjudgeable(Status.ERROR, f"not a finite number: {value}")
        if threshold.kind == "relative":
            if baseline is None:
                raise _Unjudgeable(Status.NO_DATA, "no baseline captured")
            return relative_change(float(value), baseline.value)
        if threshold.kind == "rate":
            return per_hour_rate(samples[: i + 1], sample.at, metric.rate_window, metric.min_samples)
        return float(value)

    return figure


def _unit(threshold: Threshold, metric: Metric) -> str:
    if threshold.kind == "rate":
        return "/hour"
    if threshold.kind == "relative":
        return "%"
    return metric.unit


def judge(
    rule: ThresholdRule,
    metric: Metric,
    samples: list[Sample],
    baseline: BaselineValue | None,
    now: datetime,
    stale_after: timedelta,
) -> Judgement:
    """The status of one threshold row given the metric's recent samples (oldest first)."""
    threshold = rule.threshold
    unit = _unit(threshold, metric)
    good = [i for i, s in enumerate(samples) if s.ok]
    last_good = samples[good[-1]] if good else None
    at = last_good.at if last_good else None
    age = now - at if at else None
    raw = last_good.value if last_good else None

    def result(status: Status, reason: str, value: float | str | None = None) -> Judgement:
        return Judgement(rule.metric, rule.label, status, value, raw, str(threshold), unit, reason, at, age)

    if metric.unwired:
        return result(Status.NOT_WIRED, "not wired: the plan gives no source for this metric yet")
    if not samples:
        return result(Status.NO_DATA, "no samples yet")
    latest = samples[-1]
    if latest.error:
        since = f"; last good {format_duration(age)} ago" if age is not None else "; no good sample yet"
        return result(Status.ERROR, latest.error + since)
    if latest.value is None:
        return result(Status.NO_DATA, "the source returned no data (empty result)")
    assert last_good is not None and age is not None
    if age > stale_after:
        return result(
            Status.STALE, f"last good sample {format_duration(age)} old (limit {format_duration(stale_after)})"
        )

    figure = _figure_fn(threshold, metric, samples, baseline)
    try:
        current = figure(good[-1])
    except _Unjudgeable as exc:
        return result(exc.status, exc.reason)
    style = REASON_CHANGE if threshold.kind == "relative" else REASON  # a change is signed; an absolute % is not
    shown = f"{format_reading(current, unit, style)} vs {threshold}"
    if threshold.kind == "relative" and baseline is not None:
        shown += f" (baseline {format_reading(baseline.value, metric.unit, REASON)})"
    if not threshold.holds(current):
        bad_run = 1
        for i in reversed(good[:-1]):
            if bad_run >= metric.consecutive:
                break
            try:
                if threshold.holds(figure(i)):
                    break
            except _Unjudgeable:
                break
            bad_run += 1
        if bad_run >= metric.consecutive:
            extra = f" ({bad_run} consecutive)" if metric.consecutive > 1 else ""
            return result(Status.BREACH, f"breach: {shown}{extra}", current)
        return result(Status.WARN, f"bad {bad_run}/{metric.consecutive} consecutive: {shown}", current)
    if rule.warn is not None and not rule.warn.holds(current):
        return result(Status.WARN, f"warning level: {format_reading(current, unit, style)} vs {rule.warn}", current)
    return result(Status.OK, f"within: {shown}", current)


def worst(judgements: list[Judgement]) -> Status:
    """The most severe status (OK for an empty list)."""
    return max((j.status for j in judgements), key=SEVERITY.__getitem__, default=Status.OK)
