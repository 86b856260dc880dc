"""From what a source answered to a metric's value: JSON parsed strictly, a path into it, a finite number
or a text, as the metric's kind wants it. Every source kind uses these; a bad value is a SourceError."""

from __future__ import annotations

import json
import math
from typing import Any

from cockpit.plan.model import Metric
from cockpit.secrets import cut
from cockpit.sources.errors import SourceError
from cockpit.text import well_formed


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} in the JSON body")


def parse_json(data: bytes) -> Any:
    """JSON, refusing NaN/Infinity (which Python's json would otherwise accept)."""
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except ValueError as exc:
        if "in the JSON body" in str(exc):
            raise SourceError(f"not a finite number: {exc}") from None
        snippet = cut(data[:61].decode("utf-8", "replace").replace("\n", " "), 60)
        raise SourceError(f"body is not JSON: {snippet!r}") from None


def json_path(body: Any, path: str) -> Any:
    """Follow ``a.b.0.c`` into a JSON document; raise SourceError naming the missing step."""
    value = body
    walked: list[str] = []
    for part in [p for p in path.split(".") if p]:
        walked.append(part)
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            raise SourceError(f"JSON path {'.'.join(walked)!r} not found in the body")
    return value


def to_number(value: Any) -> float:
    """A finite float from a JSON number (or a numeric string); SourceError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SourceError(f"non-numeric value {_short(value)}")
    try:
        number = float(value)
    except ValueError:
        raise SourceError(f"non-numeric value {_short(value)}") from None
    if not math.isfinite(number):
        raise SourceError(f"not a finite number: {value}")
    return number


MAX_TEXT_VALUE = 200
"""The longest text value kept (a status word, a version): the rest is counted, not kept."""


def to_value(value: Any, metric: Metric) -> float | str:
    """The value as the metric's kind wants it: text for ``text`` metrics, a finite float otherwise."""
    if metric.kind == "text":
        if isinstance(value, dict | list) or value is None:
            raise SourceError(f"expected a text value, got {_short(value)}")
        return str(value).lower() if isinstance(value, bool) else well_formed(str(value))  # a JSON "\udcff"
    return to_number(value)


def cut_text(text: str) -> str:
    """At most :data:`MAX_TEXT_VALUE` characters of a value or error kept (the rest counted): a service's
    megabyte is not stored with every sample, nor recorded in every breach. Cut only after the secrets are
    redacted, so that no part of one is left behind where the whole would have been masked."""
    kept = cut(text, MAX_TEXT_VALUE)
    return kept if kept == text else f"{kept} ({len(text) - MAX_TEXT_VALUE} more characters)"


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
