"""Find, read and validate the rollout plan.

Lookup order: ``--config PATH``, then ``$COCKPIT_CONFIG``, then ``./cockpit.toml``.

Every problem is reported as one line, ``FILE:LINE: key.path: message``, and no traceback: the
line is found by scanning the TOML text for the table header or key that the problem names.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cockpit.plan.build import build_plan
from cockpit.plan.lines import KeyLines
from cockpit.plan.model import Plan
from cockpit.plan.parts import UNWIRED
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


@dataclass(frozen=True)
class Unset:
    """A ``${VAR}`` of the plan with no value in the environment (and no default): where it is used."""

    var: str
    key: str
    line: int

    @property
    def part(self) -> str:
        """What uses it: ``sources.app``, ``providers.unleash``, ``notify.webhooks``."""
        return ".".join(self.key.split(".")[:2])


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
    unset: tuple[Unset, ...] = ()
    """``${VAR}`` references with no value, when loaded with ``defer_unset``: what uses one fails where it is
    used (a poll reads ERROR, a provider's flags are not driven, a webhook is not posted), naming it."""

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


def load_plan(path: Path | str, environ: Mapping[str, str] | None = None, *, defer_unset: bool = False) -> LoadedPlan:
    """Read, parse and validate the plan at ``path`` (``defer_unset``: see :func:`parse_plan`)."""
    path = Path(path)
    return parse_plan(read_plan_text(path), str(path), environ, base=path, defer_unset=defer_unset)


MAX_PLAN = 4 << 20
"""The largest plan read, in bytes (the seed checklist's plan is about 20 KiB)."""


def read_plan_text(path: Path) -> str:
    """The plan file's text: a regular file (not a device or a pipe, which would never end or never come),
    at most :data:`MAX_PLAN` bytes, UTF-8; else :class:`ConfigError`, one line."""
    name = str(path)

    def problem(message: str) -> ConfigError:
        return ConfigError([Problem(name, 0, "", message)])

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a pipe's open does not wait for a writer
    except FileNotFoundError:
        raise problem("no such file") from None
    except IsADirectoryError:
        raise problem("is a directory, not a plan file") from None
    except PermissionError:
        raise problem("permission denied") from None
    except OSError as exc:
        raise problem(exc.strerror or str(exc)) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise problem("is a directory, not a plan file")
        if not stat.S_ISREG(mode):
            raise problem("not a regular file (a device or a pipe): not a plan file")
        chunks, size = [], 0
        while size <= MAX_PLAN and (chunk := os.read(fd, 1 << 16)):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise problem(exc.strerror or str(exc)) from None
    finally:
        os.close(fd)
    if size > MAX_PLAN:
        raise problem(f"larger than {MAX_PLAN >> 20} MiB: not a plan file")
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise problem(f"not UTF-8 text ({exc.reason})") from None


def parse_plan(
    text: str,
    name: str = "<plan>",
    environ: Mapping[str, str] | None = None,
    *,
    base: Path | None = None,
    defer_unset: bool = False,
) -> LoadedPlan:
    """Validate plan text; ``name`` is used in messages.

    A ``${VAR}`` with no value is a problem of the plan, unless ``defer_unset``: then it is kept in
    :attr:`LoadedPlan.unset` and only what uses it fails (secrets are resolved at the moment of use), so
    one missing token does not keep an operator from the record, the dashboard or the other flags.
    """
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
    unset = [Unset(var, key, lines.find(key)) for key, value in _strings(data) for var in env.check(value)]
    if not defer_unset:
        problems += [Problem(name, u.line, u.key, f"environment variable {u.var} is not set") for u in unset]
    plan, plan_problems = build_plan(data)
    problems += [Problem(name, lines.find(k), k, m) for k, m in plan_problems]
    if problems or plan is None:
        raise ConfigError(problems)
    env.learn(credentials, referenced=[n for _, value in _strings(data) for n, _d in references(value)])
    return LoadedPlan(
        plan,
        (base or Path(name)).resolve(),
        env,
        group,
        lines.find("rollout.group") if group else 0,
        tuple(unset) if defer_unset else (),
    )


def unset_by_var(loaded: LoadedPlan) -> dict[str, list[Unset]]:
    """:attr:`LoadedPlan.unset`, by variable, in the plan's order."""
    found: dict[str, list[Unset]] = {}
    for u in loaded.unset:
        found.setdefault(u.var, []).append(u)
    return found


def unset_report(loaded: LoadedPlan) -> list[str]:
    """One line per variable of :attr:`LoadedPlan.unset`: where the plan uses it, and that only that fails."""
    return [
        f"{loaded.path}:{uses[0].line}: environment variable {var} is not set "
        f"(used by {', '.join(u.key for u in uses)}): only what uses it fails ('cockpit validate' checks the "
        "whole plan)"
        for var, uses in unset_by_var(loaded).items()
    ]


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
        lines = KeyLines(read_plan_text(loaded.path))
    except ConfigError:
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


def _strings(data: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _strings(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _strings(v, f"{prefix}.{i}")
    elif isinstance(data, str):
        yield prefix, data
