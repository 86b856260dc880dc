"""Parsed TOML into the plan model, with every mistake found: msgspec stops at the first, so a piece that
fails is converted again with the key at fault set aside, until each mistake of each table or stage is
named as ``(dotted key, message in the operator's words)`` (:func:`cockpit.plan.load.parse_plan` adds the
file and line)."""

from __future__ import annotations

import copy
import re
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec

from cockpit.plan.checks import plan_problems
from cockpit.plan.model import Plan, dec_hook
from cockpit.plan.parts import IDENT_PATTERN


def build_plan(data: dict[str, Any]) -> tuple[Plan | None, list[tuple[str, str]]]:
    """Validate parsed TOML into a :class:`Plan`; on failure, None and every (dotted key, message) found.

    msgspec stops at the first error, so the plan is converted in pieces (each ``[[approvers]]``,
    ``[[stages]]``, ``[[flags]]`` element, each ``[sources.X]``, ``[metrics.X]``, ``[providers.X]`` entry,
    each top-level table) with one problem per failing piece; only when all pieces pass is the plan built,
    and checked as a whole (:func:`cockpit.plan.checks.plan_problems`).
    """
    problems: list[tuple[str, str]] = []
    fields = {f.encode_name: f for f in msgspec.structs.fields(Plan)}
    problems += [(str(key), "unknown key") for key in data if key not in fields]
    values: dict[str, Any] = {}
    for key, info in fields.items():
        if key not in data:
            if info.required:
                problems.append((key, "required key is missing"))
            continue
        kind, metas = _unwrap(info.type)
        value = data[key]
        if get_origin(kind) is tuple and isinstance(value, list):
            values[info.name] = tuple(_piece(v, get_args(kind)[0], f"{key}.{i}", problems) for i, v in enumerate(value))
            least = max((m.min_length for m in metas if m.min_length is not None), default=0)
            if len(value) < least:
                problems.append((key, f"needs at least {least} {'entry' if least == 1 else 'entries'}"))
        elif get_origin(kind) is dict and isinstance(value, dict):
            values[info.name] = {k: _piece(v, get_args(kind)[1], f"{key}.{k}", problems) for k, v in value.items()}
        else:
            values[info.name] = _piece(value, info.type, key, problems)
    if problems:
        return None, problems
    plan = Plan(**values)
    problems = plan_problems(plan)
    return (None, problems) if problems else (plan, [])


MORE_PER_PIECE = 10
"""Problems reported for one piece after its first (each needs another conversion)."""


def _piece(value: Any, kind: Any, at: str, problems: list[tuple[str, str]]) -> Any:
    """``value`` converted to ``kind``, or None with its problems added.

    msgspec stops at the first problem, so the key at fault is set aside (when it can be: an unknown key,
    or a wrong value of a key that is not required) and the rest converted again: several mistakes in one
    stage are all reported at once, each as itself rather than as a consequence of the one before."""
    trial: Any = value
    failed = False
    for _ in range(1 + MORE_PER_PIECE):
        try:
            converted = msgspec.convert(trial, kind, dec_hook=dec_hook)
        except msgspec.ValidationError as exc:
            problem = _problem(str(exc), kind, at)
            if problem in problems:
                break
            problems.append(problem)
            failed = True
            trial = _set_aside(trial, kind, str(exc))
            if trial is None:
                break
        else:
            return None if failed else converted
    return None


def _error_path(text: str) -> tuple[str, list[str], bool]:
    """msgspec's message and the steps of its ``$.a[0].b`` path; False when a step is an unnamed table key."""
    m = _AT.match(text)
    msg, raw_path = (m["msg"], m["path"] or "") if m else (text, "")
    path: list[str] = []
    for step in _STEP.finditer(raw_path):
        if step[0] == "[...]":
            return msg, path, False
        path.append(step[1] or step[2])
    return msg, path, True


def _set_aside(value: Any, kind: Any, text: str) -> Any:
    """A copy of ``value`` without the key msgspec complained about, or None if none can go."""
    msg, path, named = _error_path(text)
    if not named:
        return None
    if field := re.fullmatch(r"Object contains unknown field `(.*)`", msg):
        path = [*path, field[1]]
    elif msg.startswith("Object missing required field") or not path or path[-1] == "kind":
        return None
    parent = _type_at(kind, path[:-1])
    if (
        isinstance(parent, type)
        and issubclass(parent, msgspec.Struct)
        and not msg.startswith("Object contains")
        and any(f.encode_name == path[-1] and f.required for f in msgspec.structs.fields(parent))
    ):
        return None  # without it the next problem would be "missing", which is not what is wrong
    trial = copy.deepcopy(value)
    node = trial
    for step in path[:-1]:
        node = node[int(step)] if isinstance(node, list) else node.get(step) if isinstance(node, dict) else None
        if node is None:
            return None
    if not isinstance(node, dict) or path[-1] not in node:
        return None
    del node[path[-1]]
    return trial


_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")
_NAMES = {
    "bool": "true or false",
    "str": "a string",
    "int": "a whole number",
    "float": "a number",
    "array": "a list",
    "object": "a table",
    "null": "nothing",
    "datetime": "a date-time",
    "date": "a date",
    "time": "a time",
}


def _problem(text: str, kind: Any, at: str) -> tuple[str, str]:
    """msgspec's message for a piece (``Expected `bool`, got `str` - at `$.x[0].y```) as (dotted key, operator words)."""
    msg, path, _ = _error_path(text)  # a key of a table msgspec does not name: reported at the table
    target = _type_at(kind, path)

    if field := re.fullmatch(r"Object contains unknown field `(.*)`", msg):
        return _join(at, path, field[1]), "unknown key"
    if field := re.fullmatch(r"Object missing required field `(.*)`", msg):
        if field[1] == "kind" and _tags(target):
            return _join(at, path), "missing 'kind'"
        return _join(at, path, field[1]), "required key is missing"
    if (bad := re.fullmatch(r"Invalid value (.*)", msg)) and path and path[-1] == "kind":
        tags = _tags(_type_at(kind, path[:-1]))
        expected = ", ".join(repr(t) for t in tags)
        return _join(at, path[:-1]), f"unknown kind {bad[1]}" + (f"; expected one of {expected}" if tags else "")
    if bad := re.fullmatch(r"Invalid enum value (.*)", msg):
        allowed = [repr(v) for v in get_args(target)] if get_origin(target) is Literal else []
        return _join(at, path), f"unknown value {bad[1]}" + (
            f"; expected one of {', '.join(allowed)}" if allowed else ""
        )
    if bound := re.fullmatch(r"Expected `(\w+)` (<=|>=|<|>) (\S+)", msg):
        words = {"<=": "at most", ">=": "at least", "<": "less than", ">": "greater than"}[bound[2]]
        return _join(at, path), f"must be {words} {bound[3]}"
    if length := re.fullmatch(r"Expected `(\w+)` of length (<=|>=) (\d+)", msg):
        n = int(length[3])
        if length[2] == ">=" and n == 1:
            return _join(at, path), "must not be empty"
        unit = "characters" if length[1] == "str" else "entries"
        return _join(at, path), f"must have {'at most' if length[2] == '<=' else 'at least'} {n} {unit}"
    if regex := re.fullmatch(r"Expected `str` matching regex (.*)", msg):
        if regex[1].strip("'") == IDENT_PATTERN:
            return _join(at, path), "must start with a letter or digit and hold only letters, digits, '_', '.' and '-'"
        return _join(at, path), f"must match {regex[1]}"
    if wrong := re.fullmatch(r"Expected `(.*)`, got `(.*)`", msg):
        want = " or ".join(_NAMES.get(w, w) for w in wrong[1].split(" | ") if w != "null")
        got = "a decimal number" if wrong[2] == "float" else _NAMES.get(wrong[2], wrong[2])
        return _join(at, path), f"expected {want}, got {got}"
    return _join(at, path), msg


def _join(at: str, path: list[str], *more: str) -> str:
    return ".".join([at, *path, *more])


def _unwrap(kind: Any) -> tuple[Any, list[msgspec.Meta]]:
    """``Annotated[T, Meta(...)]`` and ``T | None`` down to T, with the Meta constraints."""
    metas: list[msgspec.Meta] = []
    while True:
        if get_origin(kind) is Annotated:
            kind, *extra = get_args(kind)
            metas += [m for m in extra if isinstance(m, msgspec.Meta)]
        elif get_origin(kind) in (Union, UnionType) and type(None) in get_args(kind):
            rest = [a for a in get_args(kind) if a is not type(None)]
            if len(rest) != 1:
                return kind, metas
            kind = rest[0]
        else:
            return kind, metas


def _type_at(kind: Any, path: list[str]) -> Any:
    """The type that a path inside a piece of type ``kind`` leads to (None when it cannot tell)."""
    for step in path:
        kind, _ = _unwrap(kind)
        origin = get_origin(kind)
        if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
            found = [f.type for f in msgspec.structs.fields(kind) if f.encode_name == step]
            kind = found[0] if found else None
        elif origin is tuple:
            kind = get_args(kind)[0]
        elif origin is dict:
            kind = get_args(kind)[1]
        else:
            return None
    return _unwrap(kind)[0]


def _tags(kind: Any) -> list[str]:
    """The ``kind`` tags of a tagged union of structs (empty for anything else)."""
    members = get_args(kind) if get_origin(kind) in (Union, UnionType) else (kind,)
    return [
        m.__struct_config__.tag
        for m in members
        if isinstance(m, type) and issubclass(m, msgspec.Struct) and isinstance(m.__struct_config__.tag, str)
    ]
