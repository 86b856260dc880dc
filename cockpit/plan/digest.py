"""What approvers sign: the plan's content without its presentation, its digest, and what changed.

The digest covers everything that changes what was approved: the rollout's record settings, defaults,
approvers (and who may sign), stages with their items, checks, thresholds and canary steps, flags and
their keys, providers (kind, URLs, templates, project, environment), sources and metrics (URLs, queries,
commands, paths), contacts, incident steps and notifications. It leaves out only presentation: every
``title`` and the ``[keys]`` map. Secrets are ``${VAR}`` references in the plan, never their values.

:func:`changes` names what differs between two signed contents as dotted paths, with list entries
named by their id (``stages.stage-2.canary.dlq-5.soak``, ``providers.app.off.url``).
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import msgspec

from cockpit.plan.thresholds import Threshold

PRESENTATION_FIELDS = frozenset({"title"})
"""Fields left out of the digest wherever they appear (they change how the plan reads, not what it does)."""
PRESENTATION_PARTS = frozenset({"keys"})
"""Top-level tables left out of the digest."""
ADDED_SINCE_SIGNED = frozenset({"allowed_signers", "require_signatures", "principals", "value_regex"})
"""Keys added after plans were signed (signed decisions, a command metric's value_regex): left out of the
digest while unset, so plans without them keep their digest (and their approvals); set, they are signed like
everything else."""

_LIST_KEYS = ("id", "role", "name", "metric")
"""What names an entry of a list in :func:`changes`, tried in order (else its index)."""


def signed_content(plan: Any) -> dict[str, Any]:
    """Plain JSON data of everything in ``plan`` that approvers sign (see the module docstring)."""
    return {
        name: _jsonable(getattr(plan, name))
        for name in plan.__struct_fields__
        if name not in PRESENTATION_PARTS
    }


def digest_of(content: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``content``."""
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def changes(old: Any, new: Any, at: str = "") -> list[str]:
    """The dotted paths where ``new`` differs from ``old`` (added, removed or changed), in order."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[str] = []
        for key in list(old) + [k for k in new if k not in old]:
            path = f"{at}.{key}" if at else str(key)
            if key not in new:
                found.append(f"{path} removed")
            elif key not in old:
                found.append(f"{path} added")
            else:
                found += changes(old[key], new[key], path)
        return found
    if isinstance(old, list) and isinstance(new, list):
        old_named, new_named = _named(old), _named(new)
        if old_named is not None and new_named is not None:
            return changes(old_named, new_named, at)
        if len(old) == len(new):
            return [p for i, (o, n) in enumerate(zip(old, new, strict=True)) for p in changes(o, n, f"{at}.{i}")]
    return [] if old == new else [at or "plan"]


def _named(entries: list[Any]) -> dict[str, Any] | None:
    """A list of tables as a dict by their id (or role, name, metric), when every entry has a distinct one."""
    for key in _LIST_KEYS:
        if entries and all(isinstance(e, dict) and isinstance(e.get(key), str) for e in entries):
            names = [e[key] for e in entries]
            if len(set(names)) == len(names):
                return dict(zip(names, entries, strict=True))
    return None


def _jsonable(value: Any) -> Any:
    """Plain JSON data of a plan part: every field, defaults included, except presentation fields;
    durations as exact seconds, thresholds as their text."""
    if isinstance(value, msgspec.Struct):
        config = value.__struct_config__
        out = {
            name: _jsonable(getattr(value, name))
            for name in value.__struct_fields__
            if name not in PRESENTATION_FIELDS and (name not in ADDED_SINCE_SIGNED or getattr(value, name))
        }
        if isinstance(config.tag_field, str):
            out[config.tag_field] = config.tag
        return out
    if isinstance(value, timedelta):
        return _duration(value)
    if isinstance(value, Threshold):
        return str(value)
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _duration(delta: timedelta) -> str:
    """Exact text of a duration in seconds (:func:`format_duration` rounds: ``3d`` for 3 days and 5 minutes)."""
    return f"{delta.total_seconds()!r}s"
