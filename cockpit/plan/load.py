"""Find, read and validate the rollout plan.

Lookup order: ``--config PATH``, then ``$COCKPIT_CONFIG``, then ``./cockpit.toml``.

Every problem is reported as one line, ``FILE:LINE: key.path: message``, and no traceback: the
line is found by scanning the TOML text for the table header or key that the problem names.
"""

from __future__ import annotations

import copy
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec

from cockpit.plan.model import Plan, PlanProblems, dec_hook
from cockpit.plan.parts import IDENT_PATTERN, UNWIRED
from cockpit.secrets import Env, credential_names, pop_secret_marks, references

DEFAULT_NAME = "cockpit.toml"
ENV_VAR = "COCKPIT_CONFIG"


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        key = f" {self.key}:" if self.key else ""
        return f"{self.file}:{self.line}:{key} {self.message}"


class ConfigError(Exception):
    """The plan cannot be used. ``problems`` holds one entry per thing to fix."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class LoadedPlan:
    """A validated plan, where it came from, and the environment its ``${VAR}``s resolve against."""

    plan: Plan
    path: Path
    env: Env = field(compare=False)
    group: str = ""
    """``[rollout] group``: the OS group that shares the state directory (see ``cockpit.store.paths``).
    Kept beside the model, not in it: who may open the files is not part of what approvers sign."""
    group_line: int = 0

    @property
    def base_dir(self) -> Path:
        return self.path.parent


def find_config(arg: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """The plan file to use, by the lookup order; raise :class:`ConfigError` when there is none."""
    environ = os.environ if environ is None else environ
    if arg:
        return Path(arg)
    if environ.get(ENV_VAR):
        return Path(environ[ENV_VAR])
    if Path(DEFAULT_NAME).exists():
        return Path(DEFAULT_NAME)
    raise ConfigError(
        [Problem(DEFAULT_NAME, 0, "", f"no plan: pass --config PATH, set ${ENV_VAR} or create ./{DEFAULT_NAME}")]
    )


def load_plan(path: Path | str, environ: Mapping[str, str] | None = None) -> LoadedPlan:
    """Read, parse and validate the plan at ``path``."""
    path = Path(path)
    name = str(path)
    if path.is_dir():
        raise ConfigError([Problem(name, 0, "", "is a directory, not a plan file")])
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(name, 0, "", "no such file")]) from None
    except PermissionError:
        raise ConfigError([Problem(name, 0, "", "permission denied")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(name, 0, "", f"not UTF-8 text ({exc.reason})")]) from None
    except OSError as exc:
        raise ConfigError([Problem(name, 0, "", exc.strerror or str(exc))]) from None
    return parse_plan(text, name, environ, base=path)


def parse_plan(
    text: str, name: str = "<plan>", environ: Mapping[str, str] | None = None, *, base: Path | None = None
) -> LoadedPlan:
    """Validate plan text; ``name`` is used in messages."""
    if not text.strip():
        raise ConfigError([Problem(name, 1, "", "empty file: expected a rollout plan")])
    try:
        data = tomllib.loads(text)
        _check_depth(data)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([_toml_problem(name, exc)]) from None
    except RecursionError:  # tomllib recurses once per level of nesting
        raise ConfigError([Problem(name, 1, "", f"nested too deeply (at most {MAX_DEPTH} levels)")]) from None
    lines = KeyLines(text)
    env = Env(environ)
    credentials = credential_names(data)
    pop_secret_marks(data)
    group = data.get("rollout", {}).pop("group", "") if isinstance(data.get("rollout"), dict) else ""
    problems = (
        []
        if isinstance(group, str)
        else [Problem(name, lines.find("rollout.group"), "rollout.group", "expected a group name")]
    )
    problems += [
        Problem(name, lines.find(key), key, f"environment variable {var} is not set")
        for key, value in _strings(data)
        for var in env.check(value)
    ]
    plan, plan_problems = build_plan(data)
    problems += [Problem(name, lines.find(k), k, m) for k, m in plan_problems]
    if problems or plan is None:
        raise ConfigError(problems)
    env.learn(credentials, referenced=[n for _, value in _strings(data) for n, _d in references(value)])
    return LoadedPlan(plan, (base or Path(name)).resolve(), env, group, lines.find("rollout.group") if group else 0)


MAX_DEPTH = 20
"""The deepest nesting of tables and arrays a plan may have (a plan needs five)."""


def _check_depth(data: Any) -> None:
    """Raise ``RecursionError`` for data nested deeper than :data:`MAX_DEPTH` (iteratively: no recursion)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise RecursionError(f"nested deeper than {MAX_DEPTH}")
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        stack += [(child, depth + 1) for child in children]


def unwired_warnings(loaded: LoadedPlan) -> list[Problem]:
    """One warning per metric and check whose ``source = "unwired"`` (and per flag provider named so):
    a valid plan, but one whose gates stay closed on them until they are wired."""
    try:
        lines = KeyLines(loaded.path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        lines = KeyLines("")
    plan, name = loaded.plan, str(loaded.path)
    found = [
        (f"metrics.{n}.source", f"metric {m.title!r}: say where it is read (source and query)")
        for n, m in plan.metrics.items()
        if m.unwired
    ]
    found += [
        (f"stages.{si}.checks.{ci}.source", f"{c.kind} check {c.id!r} of {s.id}: say where it runs")
        for si, s in enumerate(plan.stages)
        for ci, c in enumerate(s.checks)
        if c.source == UNWIRED
    ]
    if UNWIRED in plan.providers:
        found.append((f"providers.{UNWIRED}", "no flag provider: the kill switch cannot turn the flags off"))
    return [Problem(name, lines.find(key), key, f"warning: not wired: {message}") for key, message in found]


def _toml_problem(name: str, exc: tomllib.TOMLDecodeError) -> Problem:
    msg = str(exc)
    m = re.search(r"\(at line (\d+), column \d+\)", msg)
    line = int(m[1]) if m else 1
    return Problem(name, line, "", "invalid TOML: " + re.sub(r"\s*\(at line.*\)$", "", msg))


def build_plan(data: dict[str, Any]) -> tuple[Plan | None, list[tuple[str, str]]]:
    """Validate parsed TOML into a :class:`Plan`; on failure, None and every (dotted key, message) found.

    msgspec stops at the first error, so the plan is converted in pieces (each ``[[approvers]]``,
    ``[[stages]]``, ``[[flags]]`` element, each ``[sources.X]``, ``[metrics.X]``, ``[providers.X]`` entry,
    each top-level table) with one problem per failing piece; only when all pieces pass is the plan built,
    which runs the cross-reference checks (:class:`PlanProblems`).
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
    try:
        return Plan(**values), []
    except PlanProblems as exc:
        return None, exc.problems


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


def _strings(data: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _strings(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _strings(v, f"{prefix}.{i}")
    elif isinstance(data, str):
        yield prefix, data


class KeyLines:
    """Maps dotted key paths (``stages.2.thresholds.1.threshold``) to line numbers in TOML text."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")

    def __init__(self, text: str) -> None:
        self.lines: dict[str, int] = {}
        counters: dict[str, int] = {}
        table = ""
        for number, raw in enumerate(text.splitlines(), start=1):
            header = self._HEADER.match(raw)
            if header:
                parts = [p.strip().strip("\"'") for p in header[2].split(".")]
                path = self._resolve(parts, counters)
                if header[1] == "[[":
                    index = counters.get(path, -1) + 1
                    counters[path] = index
                    path = f"{path}.{index}"
                table = path
                self.lines.setdefault(table, number)
                continue
            key = self._KEY.match(raw)
            if key:
                name = ".".join(p.strip().strip("\"'") for p in key[1].split("."))
                self.lines.setdefault(f"{table}.{name}" if table else name, number)

    def _resolve(self, parts: list[str], counters: dict[str, int]) -> str:
        # "[[stages.items]]" belongs to the latest "[[stages]]": stages.<n>.items
        path = ""
        for i, part in enumerate(parts):
            path = f"{path}.{part}" if path else part
            if path in counters and i < len(parts) - 1:
                path = f"{path}.{counters[path]}"
        return path

    def find(self, key: str) -> int:
        """The line of ``key`` or of its nearest enclosing table; 1 when nothing matches."""
        parts = key.split(".")
        while parts:
            line = self.lines.get(".".join(parts))
            if line:
                return line
            parts.pop()
        return 1
