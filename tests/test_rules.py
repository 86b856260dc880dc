"""Judging samples against threshold rows: every status, and never green on data we do not have."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cockpit.plan.model import Metric, ThresholdRule
from cockpit.rules import Status, judge, per_hour_rate, worst
from cockpit.state import BaselineValue
from cockpit.store.history import Sample

NOW = datetime(2024, 12, 12, 12, 0, tzinfo=UTC)
STALE = timedelta(seconds=15)


def rule(threshold: str, metric: str = "m", warn: str | None = None) -> ThresholdRule:
    return ThresholdRule.model_validate({"metric": metric, "label": "M", "threshold": threshold, "warn": warn})


def metric(**kw: object) -> Metric:
    return Metric.model_validate({"title": "M", "source": "s", **kw})


def series(*values: float | str | None, step: float = 5, end: datetime = NOW, error: str = "") -> list[Sample]:
    n = len(values)
    return [
        Sample("m", end - timedelta(seconds=step * (n - 1 - i)), v, error if v is None else "")
        for i, v in enumerate(values)
    ]


def test_absolute_ok_and_breach() -> None:
    ok = judge(rule("< 500ms"), metric(unit="ms"), series(120.0), None, NOW, STALE)
    assert ok.status is Status.OK and ok.value == 120.0 and ok.age == timedelta(0)
    bad = judge(rule("< 500ms"), metric(unit="ms"), series(120.0, 730.0), None, NOW, STALE)
    assert bad.status is Status.BREACH and bad.value == 730.0 and "730ms vs < 500ms" in bad.reason


def test_text_threshold() -> None:
    assert judge(rule("== healthy"), metric(kind="text"), series("healthy"), None, NOW, STALE).status is Status.OK
    j = judge(rule("== healthy"), metric(kind="text"), series("degraded"), None, NOW, STALE)
    assert j.status is Status.BREACH and j.value == "degraded"


def test_no_samples_is_no_data_and_empty_result_is_no_data() -> None:
    assert judge(rule("< 1%"), metric(unit="%"), [], None, NOW, STALE).status is Status.NO_DATA
    j = judge(rule("< 1%"), metric(unit="%"), series(0.2, None), None, NOW, STALE)
    assert j.status is Status.NO_DATA and "no data" in j.reason and j.value is None


def test_failed_poll_is_error_with_the_reason_and_the_last_good_age() -> None:
    j = judge(rule("< 1%"), metric(unit="%"), series(0.2, None, error="connection refused"), None, NOW, STALE)
    assert j.status is Status.ERROR
    assert j.reason == "connection refused; last good 5s ago"
    assert j.raw == 0.2 and j.age == timedelta(seconds=5)


def test_stale_when_the_last_good_sample_is_too_old() -> None:
    j = judge(rule("< 1%"), metric(unit="%"), series(0.2, end=NOW - timedelta(seconds=16)), None, NOW, STALE)
    assert j.status is Status.STALE and "16s old (limit 15s)" in j.reason


def test_relative_needs_a_baseline_then_compares_the_change() -> None:
    m = metric(unit="ms")
    assert judge(rule("< +15%"), m, series(100.0), None, NOW, STALE).reason == "no baseline captured"
    assert judge(rule("< +15%"), m, series(100.0), None, NOW, STALE).status is Status.NO_DATA
    base = BaselineValue(100.0, NOW - timedelta(hours=1), "5m", "q")
    ok = judge(rule("< +15%"), m, series(110.0), base, NOW, STALE)
    assert ok.status is Status.OK and ok.value == pytest.approx(10.0) and ok.unit == "%"
    bad = judge(rule("< +15%"), m, series(120.0), base, NOW, STALE)
    assert bad.status is Status.BREACH and bad.value == pytest.approx(20.0) and "baseline 100ms" in bad.reason


def test_relative_against_a_zero_baseline_is_a_breach_not_a_crash() -> None:
    base = BaselineValue(0.0, NOW, "5m", "q")
    j = judge(rule("< +5%"), metric(unit="%"), series(0.5), base, NOW, STALE)
    assert j.status is Status.BREACH and j.value == float("inf")


def test_rate_is_inconclusive_until_enough_samples_and_span() -> None:
    m = metric(kind="counter", rate_window="1h", min_samples=3)
    one = judge(rule("< 5/hour"), m, series(10.0), None, NOW, STALE)
    assert one.status is Status.INCONCLUSIVE and "1 sample(s)" in one.reason
    short = judge(rule("< 5/hour"), m, series(10.0, 10.0, 11.0), None, NOW, STALE)
    assert short.status is Status.INCONCLUSIVE and "span" in short.reason


def test_rate_per_hour_from_a_counter_and_a_breach() -> None:
    m = metric(kind="counter", rate_window="1h")
    # 2 more misses over 30 minutes: 4/hour
    ok = judge(rule("< 5/hour"), m, series(10.0, 11.0, 12.0, step=900), None, NOW, STALE)
    assert ok.status is Status.OK and ok.value == pytest.approx(4.0) and ok.unit == "/hour"
    bad = judge(rule("< 5/hour"), m, series(10.0, 11.0, 14.0, step=900), None, NOW, STALE)
    assert bad.status is Status.BREACH and bad.value == pytest.approx(8.0)


def test_rate_survives_a_counter_reset() -> None:
    # 100 -> 102 (+2), restart -> 1 (+1), -> 3 (+2): 5 over 30 minutes = 10/hour
    samples = series(100.0, 102.0, 1.0, 3.0, step=600)
    assert per_hour_rate(samples, NOW, timedelta(hours=1), 2) == pytest.approx(10.0)


def test_rate_ignores_samples_outside_the_window() -> None:
    samples = series(0.0, 1000.0, 1000.0, 1001.0, step=1200)  # the jump is 60 min ago, outside a 50 min window
    m = metric(kind="counter", rate_window="50m")
    j = judge(rule("< 5/hour"), m, samples, None, NOW, timedelta(hours=1))
    assert j.status is Status.OK and j.value == pytest.approx(1.5)


def test_consecutive_bad_samples_warn_before_breach() -> None:
    m = metric(unit="ms", consecutive=3)
    one = judge(rule("< 500ms"), m, series(100.0, 600.0), None, NOW, STALE)
    assert one.status is Status.WARN and "1/3" in one.reason
    two = judge(rule("< 500ms"), m, series(100.0, 600.0, 700.0), None, NOW, STALE)
    assert two.status is Status.WARN and "2/3" in two.reason
    three = judge(rule("< 500ms"), m, series(100.0, 600.0, 700.0, 650.0), None, NOW, STALE)
    assert three.status is Status.BREACH and "3 consecutive" in three.reason


def test_warn_level() -> None:
    j = judge(rule("< 500ms", warn="< 300ms"), metric(unit="ms"), series(400.0), None, NOW, STALE)
    assert j.status is Status.WARN and "warning level" in j.reason


def test_non_numeric_value_for_a_numeric_threshold_is_an_error() -> None:
    j = judge(rule("< 10"), metric(), series("abc"), None, NOW, STALE)
    assert j.status is Status.ERROR and "non-numeric" in j.reason


def test_only_ok_is_green_and_worst_prefers_breach() -> None:
    assert [s for s in Status if s.green] == [Status.OK]
    a = judge(rule("< 10"), metric(), series(1.0), None, NOW, STALE)
    b = judge(rule("< 10"), metric(), series(11.0), None, NOW, STALE)
    c = judge(rule("< 10"), metric(), [], None, NOW, STALE)
    assert worst([a, c]) is Status.NO_DATA and worst([a, b, c]) is Status.BREACH and worst([]) is Status.OK
