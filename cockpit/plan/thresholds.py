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
from dataclasses import FrozenInstanceError
from typing import Any, Literal

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


class Threshold:
    """A parsed threshold expression. ``str(t)`` gives back the checklist's text.

    An immutable value object (equality and hash over all five attributes). Deliberately not a dataclass:
    the plan model (msgspec) builds it from its text through a ``dec_hook``, which msgspec only calls for
    types it does not know, and it knows dataclasses.
    """

    __slots__ = ("kind", "op", "text", "unit", "value")

    op: str
    value: float | str
    kind: Kind
    unit: str
    text: str

    def __init__(self, op: str, value: float | str, kind: Kind, unit: str = "", text: str = "") -> None:
        for name, given in (("op", op), ("value", value), ("kind", kind), ("unit", unit), ("text", text)):
            object.__setattr__(self, name, given)

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def _key(self) -> tuple[str, float | str, str, str, str]:
        return (self.op, self.value, self.kind, self.unit, self.text)

    def __eq__(self, other: object) -> bool:
        return other._key() == self._key() if type(other) is type(self) else NotImplemented  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Threshold(op={self.op!r}, value={self.value!r}, kind={self.kind!r}, unit={self.unit!r}, text={self.text!r})"

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


def relative_change(value: float, baseline: float) -> float:
    """Change of ``value`` against ``baseline`` in percent. A zero baseline gives 0 or +inf."""
    if baseline == 0:
        return 0.0 if value == 0 else math.copysign(math.inf, value)
    return (value - baseline) / abs(baseline) * 100.0
