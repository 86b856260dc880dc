"""The one formatter of a reading (cockpit/readings.py): each preset's outputs, pinned.

The presets write what ``cockpit check``, a judgement's reason and the metric panel have always written; these
tables are the specification of each (the CLI and snapshot tests pin them again where they are shown).
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest

from cockpit.readings import (
    PANEL,
    PANEL_CHANGE,
    REASON,
    REASON_CHANGE,
    TABLE,
    TABLE_CHANGE,
    ReadingStyle,
    Sign,
    format_age,
    format_reading,
)

INF = math.inf
NAN = math.nan


def _cases(*rows: tuple[Any, str, str]) -> Any:
    return pytest.mark.parametrize(
        ("value", "unit", "expected"), rows, ids=[f"{v!r}-{u or 'none'}" for v, u, _ in rows]
    )


@_cases(
    (None, "%", "-"),
    ("healthy", "", "healthy"),
    ("healthy", "ms", "healthy"),  # text: never a unit
    (5, "ms", "5"),  # an int is text here: no unit
    (True, "", "True"),
    (0.0, "%", "0%"),
    (0.4213, "%", "0.4213%"),  # 4 significant figures
    (0.00012345, "%", "0.0001234%"),
    (312.0, "ms", "312ms"),  # attached, and only %, ms, /hour
    (4.0, "/hour", "4/hour"),
    (312.0, "s", "312"),
    (12.0, "count", "12"),
    (1234.5, "ms", "1234ms"),
    (12345.6, "", "1.235e+04"),  # no whole-number cut-off: an exponent
    (-4.25, "%", "-4.25%"),
    (INF, "%", "inf%"),
    (-INF, "ms", "-infms"),
    (NAN, "", "nan"),
)
def test_table(value: Any, unit: str, expected: str) -> None:
    assert format_reading(value, unit, TABLE) == expected


@_cases(
    (None, "%", "-"),
    ("n/a", "%", "n/a"),
    (12.34, "%", "+12.3%"),  # 3 figures, always signed, as Python's "+" writes it
    (0.0, "%", "+0%"),
    (-0.0, "%", "-0%"),
    (-4.25, "%", "-4.25%"),
    (1234.5, "%", "+1.23e+03%"),
    (INF, "%", "+inf%"),
    (-INF, "%", "-inf%"),
    (NAN, "%", "+nan%"),
)
def test_table_change(value: Any, unit: str, expected: str) -> None:
    assert format_reading(value, unit, TABLE_CHANGE) == expected


@_cases(
    (None, "ms", "-"),
    ("degraded", "ms", "degraded"),
    (5, "ms", "5ms"),  # an int is a number here
    (0.0, "%", "0%"),
    (0.4213, "%", "0.421%"),  # 3 significant figures
    (0.005, "%", "0.005%"),
    (730.0, "ms", "730ms"),
    (999.4, "ms", "999ms"),
    (999.5, "ms", "1e+03ms"),  # below 1000, still figures
    (1000.0, "ms", "1000ms"),  # from 1000, whole
    (12345.6, "ms", "12346ms"),
    (-1234.5, "", "-1234"),
    (4.0, "/hour", "4/hour"),
    (312.0, "s", "312"),  # only %, ms, /hour are written
    (INF, "%", "+inf%"),  # a change against a zero baseline
    (-INF, "%", "-inf%"),
    (INF, "ms", "+inf"),  # infinity: signed, and only a % unit
    (NAN, "ms", "nanms"),
)
def test_reason(value: Any, unit: str, expected: str) -> None:
    assert format_reading(value, unit, REASON) == expected


@_cases(
    (None, "%", "-"),
    (20.0, "%", "+20%"),  # + above zero
    (0.4213, "%", "+0.421%"),
    (0.0, "%", "0%"),
    (-4.25, "%", "-4.25%"),
    (1234.5, "%", "+1234%"),
    (INF, "%", "+inf%"),
    (-INF, "%", "-inf%"),
    (NAN, "%", "nan%"),
)
def test_reason_change(value: Any, unit: str, expected: str) -> None:
    assert format_reading(value, unit, REASON_CHANGE) == expected


@_cases(
    (None, "ms", "—"),
    ("healthy", "", "healthy"),
    ("up", "ms", "up ms"),  # text carries the unit too
    (5, "ms", "5 ms"),  # an int is text, with its unit
    (True, "", "True"),
    (0.0, "%", "0%"),
    (0.4213, "%", "0.42%"),  # 2 decimals
    (0.5, "%", "0.5%"),  # trailing zeros dropped
    (3.0, "ms", "3 ms"),
    (0.001, "%", "0%"),
    (99.994, "ms", "99.99 ms"),
    (99.996, "ms", "100 ms"),
    (312.4, "ms", "312 ms"),  # from 100, whole
    (12345.6, "ms", "12346 ms"),
    (-4.25, "ms", "-4.25 ms"),
    (-312.4, "ms", "-312 ms"),
    (1.5, "/hour", "1.5/hour"),  # % and /x attached, a unit word spaced
    (1.5, "req/s", "1.5 req/s"),
    (12.0, "count", "12"),  # a count is a bare number
    (INF, "%", "inf%"),
    (-INF, "ms", "-inf ms"),
    (NAN, "ms", "nan ms"),
)
def test_panel(value: Any, unit: str, expected: str) -> None:
    assert format_reading(value, unit, PANEL) == expected


@_cases(
    (None, "%", "—"),
    (3.14159, "%", "+3.14%"),  # + above zero
    (0.001, "%", "+0%"),  # above zero, even when it rounds to 0
    (0.0, "%", "0%"),
    (-3.1, "%", "-3.1%"),
    (150.0, "%", "+150%"),
    (5, "%", "5%"),  # an int is text: unsigned
    (INF, "%", "+inf%"),
    (-INF, "%", "-inf%"),
    (NAN, "%", "nan%"),
)
def test_panel_change(value: Any, unit: str, expected: str) -> None:
    assert format_reading(value, unit, PANEL_CHANGE) == expected


def test_the_presets_differ_only_in_named_parameters() -> None:
    spelled_out = ReadingStyle("-", significant=3, sign=Sign.ALWAYS, units=frozenset({"%", "ms", "/hour"}))
    assert spelled_out == TABLE_CHANGE
    assert REASON_CHANGE.sign is PANEL_CHANGE.sign is Sign.ABOVE_ZERO
    assert (TABLE.none, REASON.none, PANEL.none) == ("-", "-", "—")


def test_a_style_gives_figures_or_decimals() -> None:
    with pytest.raises(ValueError, match="either"):
        ReadingStyle("-")
    with pytest.raises(ValueError, match="either"):
        ReadingStyle("-", significant=3, decimals=2)
    whole = ReadingStyle("-", decimals=0)
    assert format_reading(10.0, "", whole) == "10"  # no decimal point: no zero to drop


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (None, "never"),
        (-5, "<10s"),
        (0, "<10s"),
        (9.9, "<10s"),
        (10, "10s"),
        (59, "50s"),  # steps of 10 s
        (60, "1m"),
        (7199, "119m"),
        (7200, "2h00m"),
        (7500, "2h05m"),
        (4 * 86400, "96h00m"),
        (timedelta(seconds=45), "40s"),
        (timedelta(minutes=3, seconds=59), "3m"),
    ],
)
def test_format_age(age: Any, expected: str) -> None:
    assert format_age(age) == expected
