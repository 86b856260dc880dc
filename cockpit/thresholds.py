"""Threshold expressions, written the way the checklist writes them.

=================  ==========================================================
``< 1%``           absolute: the value (in the metric's unit, ``%``) below 1
``< 500ms``        absolute, unit ``ms``
``< 10``           absolute, no unit
``== healthy``     text equality (a health status)
``< +15%``         relative: change against the frozen baseline below +15 %
``< 5/hour``       rate: per-hour rate over the metric's sliding window below 5
=================  ==========================================================

The explicit sign is what makes ``+15%`` relative; ``1%`` is an absolute percentage.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

Kind = Literal["absolute", "relative", "rate", "text"]

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_EXPR = re.compile(
    r"""^\s*(?P<op><=|>=|==|!=|<|>)?\s*
    (?:
        (?P<rel>[+-]\d+(?:\.\d+)?)\s*%                             # relative change
      | (?P<rate>\d+(?:\.\d+)?)\s*/\s*(?P<per>h|hr|hour|m|min|minute)  # per-hour rate
      | (?P<num>-?\d+(?:\.\d+)?)\s*(?P<unit>%|ms|s|count)?         # absolute number
      | (?P<text>[A-Za-z][\w-]*)                                   # text value
    )\s*$""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Threshold:
    """A parsed threshold expression. ``str(t)`` gives back the checklist's text."""

    op: str
    value: float | str
    kind: Kind
    unit: str = ""
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> Threshold:
        """Parse a threshold expression; raise ``ValueError`` with a readable reason."""
        if not isinstance(text, str):
            raise ValueError(f"expected a threshold such as '< 1%' or '< 5/hour', got {text!r}")
        m = _EXPR.match(text)
        if not m:
            raise ValueError(
                f"bad threshold {text!r}: expected an operator (<, <=, >, >=, ==, !=) and a value, "
                "e.g. '< 1%', '< 500ms', '< +15%', '< 5/hour', '== healthy'"
            )
        op = m["op"] or "=="
        if m["rel"] is not None:
            return cls(op, float(m["rel"]), "relative", "%", text.strip())
        if m["rate"] is not None:
            per_hour = float(m["rate"]) * (60 if m["per"] in ("m", "min", "minute") else 1)
            return cls(op, per_hour, "rate", "/hour", text.strip())
        if m["num"] is not None:
            return cls(op, float(m["num"]), "absolute", m["unit"] or "", text.strip())
        if op not in ("==", "!="):
            raise ValueError(f"bad threshold {text!r}: text values compare only with == or !=")
        return cls(op, m["text"], "text", "", text.strip())

    def __str__(self) -> str:
        return self.text

    def incompatible_with(self, unit: str, kind: str) -> str | None:
        """Why this threshold cannot apply to a metric of ``unit`` and ``kind``, or None."""
        if self.kind == "text" and kind != "text":
            return f"threshold {self.text!r} compares text but the metric is numeric"
        if self.kind != "text" and kind == "text":
            return f"threshold {self.text!r} is numeric but the metric is text"
        if self.kind == "absolute" and self.unit and unit and self.unit != unit:
            return f"threshold {self.text!r} is in {self.unit!r} but the metric is in {unit!r}"
        return None

    def holds(self, value: float | str) -> bool:
        """True when ``value`` (already expressed the way this threshold expects) is within it."""
        if self.kind == "text":
            return _OPS[self.op](str(value).strip().lower(), str(self.value).lower())
        if isinstance(value, str) or (isinstance(value, float) and not math.isfinite(value)):
            return False
        return bool(_OPS[self.op](value, self.value))

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        def validate(value: Any) -> Threshold:
            return value if isinstance(value, Threshold) else cls.parse(value)

        return core_schema.no_info_plain_validator_function(
            validate, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )


def relative_change(value: float, baseline: float) -> float:
    """Change of ``value`` against ``baseline`` in percent. A zero baseline gives 0 or +inf."""
    if baseline == 0:
        return 0.0 if value == 0 else math.copysign(math.inf, value)
    return (value - baseline) / abs(baseline) * 100.0
