"""How a metric reading reads: its value with its unit (:func:`format_reading`), and its age (:func:`format_age`).

One formatter writes a reading wherever the cockpit shows one. What differs between places is data, a
:class:`ReadingStyle`, and each place has its named preset:

- ``TABLE``: ``cockpit check``'s VALUE column, the dashboard's breach line and ``cockpit baseline``'s
  listing. 4 significant figures; the unit attached, and only ``%``, ``ms`` or ``/hour``: ``0.4213%``,
  ``312ms``, ``1.235e+04``, ``-`` for none. ``TABLE_CHANGE``, a change against the baseline: 3 figures,
  always signed (``+12.3%``, ``+0%``).
- ``REASON``: a judgement's reason (:mod:`cockpit.rules`). 3 significant figures, whole from 1000, the same
  units, ``+inf``/``-inf``: ``0.42%``, ``1234ms``. ``REASON_CHANGE``: ``+`` above zero (``+12.3%``, ``0%``).
- ``PANEL``: the metric panel (``widgets/metric_panel.py``). 2 decimals (trailing zeros dropped), whole from
  100, every unit but ``count``, a unit word spaced: ``0.42%``, ``312 ms``, ``1.5/hour``, ``healthy``, ``—``
  for none. ``PANEL_CHANGE``: ``+`` above zero (``+3.1%``).

A duration is :func:`cockpit.plan.parts.format_duration` (the plan's own text for one, ``4m05s``);
:func:`format_age` is the panel's coarser age of a reading, which changes at most every 10 s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import Enum
from typing import Any


class Sign(Enum):
    """When a number is written with a sign."""

    MINUS = "minus"
    """Only a negative number: ``-3.1``, ``3.1``, ``0``."""
    ABOVE_ZERO = "above zero"
    """A change: ``+`` before a number above zero (``+3.1``, ``0``, ``-3.1``)."""
    ALWAYS = "always"
    """Every number, as Python's ``+`` format writes it: ``+3.1``, ``+0``, ``-0``, ``+nan``."""


SHORT_UNITS = frozenset({"%", "ms", "/hour"})
"""The units a one-line reading writes (``TABLE``, ``REASON``); any other unit is left to the metric's title."""


@dataclass(frozen=True)
class ReadingStyle:
    """How :func:`format_reading` writes a reading. Give ``significant`` or ``decimals``, not both."""

    none: str
    """What no reading (None) reads as."""
    significant: int | None = None
    """Significant figures (Python's ``g``: ``0.4213``, ``1.235e+04``)."""
    decimals: int | None = None
    """Decimals, trailing zeros dropped (``0.42``, ``0.5``, ``3``)."""
    whole_from: float | None = None
    """From this magnitude up, a number is written whole (``1234``), without decimals or exponent."""
    sign: Sign = Sign.MINUS
    """When a number is written with a sign (a change against the baseline is signed)."""
    signed_infinity: bool = False
    """An infinite number (a change against a zero baseline) is written ``+inf`` or ``-inf`` whatever
    ``sign`` says, with its unit only when that is ``%``."""
    numbers: tuple[type[int] | type[float], ...] = (float,)
    """The types written as numbers; any other value is text, written as ``str()`` writes it."""
    units: frozenset[str] | None = None
    """The units written; None: every unit but ``count`` (a bare number says it). ``""`` writes none."""
    spaced: bool = False
    """A space before a unit word (``312 ms``); ``%`` and ``/…`` are always attached (``0.4%``, ``2/hour``)."""
    unit_on_text: bool = False
    """A text value is followed by the unit too (``up ms``; ``5 ms`` for an int that is text)."""

    def __post_init__(self) -> None:
        if (self.significant is None) == (self.decimals is None):
            raise ValueError("a reading style gives either significant figures or decimals")


TABLE = ReadingStyle("-", significant=4, units=SHORT_UNITS)
"""``cockpit check``'s VALUE column, the breach line, the baseline listing: ``0.4213%``, ``312ms``."""
TABLE_CHANGE = replace(TABLE, significant=3, sign=Sign.ALWAYS)
"""``TABLE`` for a change against the baseline: ``+12.3%``, ``+0%``, ``-4.2%``."""
REASON = ReadingStyle(
    "-", significant=3, whole_from=1000, signed_infinity=True, numbers=(int, float), units=SHORT_UNITS
)
"""A judgement's reason: ``within: 0.42% vs < 1%``, ``(baseline 1234ms)``."""
REASON_CHANGE = replace(REASON, sign=Sign.ABOVE_ZERO)
"""``REASON`` for a change against the baseline: ``breach: +20% vs < +15%``, ``+inf%``."""
PANEL = ReadingStyle("—", decimals=2, whole_from=100, spaced=True, unit_on_text=True)
"""The metric panel: ``0.42%``, ``312 ms``, ``1.5/hour``, ``healthy``, ``—``."""
PANEL_CHANGE = replace(PANEL, sign=Sign.ABOVE_ZERO)
"""The panel of a relative threshold: ``+3.1%``."""


def format_reading(value: Any, unit: str, style: ReadingStyle) -> str:
    """A reading with its unit, as ``style`` writes it: ``0.42%``, ``312 ms``, ``healthy``, ``-`` for none."""
    if value is None:
        return style.none
    if not isinstance(value, style.numbers):
        return _with_unit(str(value), unit, style) if style.unit_on_text else str(value)
    if style.signed_infinity and math.isinf(value):
        return ("+" if value > 0 else "-") + "inf" + (unit if unit == "%" else "")
    return _with_unit(_number(value, style), unit, style)


def _number(value: Any, style: ReadingStyle) -> str:
    plus = "+" if style.sign is Sign.ALWAYS else ""
    if style.whole_from is not None and abs(value) >= style.whole_from:
        text = f"{value:{plus}.0f}"
    elif style.significant is not None:
        text = f"{value:{plus}.{style.significant}g}"
    else:
        text = f"{value:{plus}.{style.decimals}f}"
        text = text.rstrip("0").rstrip(".") if "." in text else text
    return "+" + text if style.sign is Sign.ABOVE_ZERO and value > 0 else text


def _with_unit(text: str, unit: str, style: ReadingStyle) -> str:
    shown = unit in style.units if style.units is not None else unit != "count"
    if not unit or not shown:
        return text
    if style.spaced and unit != "%" and not unit.startswith("/"):
        return f"{text} {unit}"
    return text + unit


def format_age(age: Any) -> str:
    """A reading's age at a glance, from seconds or a timedelta: ``<10s``, ``40s`` (steps of 10 s, so a line
    redrawn every second changes every 10 s), ``5m``, ``2h05m``; ``never`` when None."""
    if age is None:
        return "never"
    seconds = age.total_seconds() if isinstance(age, timedelta) else float(age)
    seconds = max(int(seconds), 0)
    if seconds < 10:
        return "<10s"
    if seconds < 60:
        return f"{seconds // 10 * 10}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
