"""Find, read and validate the rollout plan.

Lookup order: ``--config PATH``, then ``$COCKPIT_CONFIG``, then ``./cockpit.toml``.

Every problem is reported as one line, ``FILE:LINE: key.path: message``, and no traceback: the
line is found by scanning the TOML text for the table header or key that the problem names.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cockpit.plan import Plan, PlanProblems
from cockpit.secrets import Env, references

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
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([_toml_problem(name, exc)]) from None
    lines = KeyLines(text)
    env = Env(environ)
    problems = [
        Problem(name, lines.find(key), key, f"environment variable {var} is not set")
        for key, value in _strings(data)
        for var in env.check(value)
    ]
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            ctx_error = (err.get("ctx") or {}).get("error")
            if isinstance(ctx_error, PlanProblems):
                problems += [Problem(name, lines.find(k), k, m) for k, m in ctx_error.problems]
                continue
            key = ".".join(str(p) for p in _clean_loc(err["loc"], data))
            problems.append(Problem(name, lines.find(key), key, _message(err)))
        plan = None
    if problems or plan is None:
        raise ConfigError(problems)
    env.learn(n for _, value in _strings(data) for n, _d in references(value))
    return LoadedPlan(plan, (base or Path(name)).resolve(), env)


def _toml_problem(name: str, exc: tomllib.TOMLDecodeError) -> Problem:
    msg = str(exc)
    m = re.search(r"\(at line (\d+), column \d+\)", msg)
    line = int(m[1]) if m else 1
    return Problem(name, line, "", "invalid TOML: " + re.sub(r"\s*\(at line.*\)$", "", msg))


def _clean_loc(loc: tuple[Any, ...], data: Any) -> list[Any]:
    """Drop pydantic's union tags (the ``kind`` it dispatched on, ``function-plain[...]``) from a path."""
    path: list[Any] = []
    node = data
    for part in loc:
        if isinstance(part, str) and "[" in part:
            continue
        if isinstance(node, dict) and part not in node and node.get("kind") == part:
            continue  # the discriminator's tag, not a key of the document
        path.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    return path


def _message(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        return f"unknown kind {err['input'].get('kind')!r}; expected one of {err['ctx']['expected_tags']}"
    if kind == "union_tag_not_found":
        return "missing 'kind'"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


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
