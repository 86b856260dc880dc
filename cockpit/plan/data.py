"""The whole plan as plain JSON data (``${VAR}`` references unresolved), every field as written:
``build_plan`` reads it back into an equal plan with the same digest. ``cockpit fleet`` reads the plans
the running cockpits published this way."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec

from cockpit.plan.model import Plan, format_duration
from cockpit.plan.thresholds import Threshold


def _plain(value: Any) -> Any:
    """Plain JSON data of a plan part, every field as written (the digest's own form is in plan/digest.py).

    Every field, defaults included; durations as :func:`format_duration` text, thresholds as their text.
    """
    if isinstance(value, msgspec.Struct):
        config = value.__struct_config__
        out = {name: _plain(getattr(value, name)) for name in value.__struct_fields__}
        if isinstance(config.tag_field, str):
            out[config.tag_field] = config.tag
        return out
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, Threshold):
        return str(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def plan_data(plan: Plan) -> dict[str, Any]:
    """The whole plan as plain JSON data (``${VAR}`` references unresolved); ``build_plan`` reads it back
    into an equal plan (the same digest). ``cockpit fleet`` reads the plans the cockpits published."""
    return {name: _plain(getattr(plan, name)) for name in plan.__struct_fields__}
