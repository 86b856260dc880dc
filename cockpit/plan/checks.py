"""The checks a plan passes as a whole, once its pieces parsed: every reference resolves (flags, providers,
sources, metrics, stages, canary steps), ids are unique, thresholds fit their metric's unit, intervals are
longer than zero, regular expressions compile, the key map binds no key twice, signatures have their
allowed_signers. Each problem is ``(dotted key, message)``; :func:`cockpit.plan.build.build_plan` reports
them with the rest."""

from __future__ import annotations

import math
import re
from datetime import timedelta

from cockpit.plan.keys import keymap_problems
from cockpit.plan.model import Metric, Plan
from cockpit.plan.parts import UNWIRED, CommandSource, Model


def plan_problems(plan: Plan) -> list[tuple[str, str]]:
    """Every cross-reference and value problem of ``plan`` (empty: the plan can work)."""
    problems: list[tuple[str, str]] = []
    flag_names = {f.name for f in plan.flags}
    stage_ids = [s.id for s in plan.stages]
    _unique(problems, "approvers", [a.role for a in plan.approvers], "role")
    _unique(problems, "stages", stage_ids, "id")
    _unique(problems, "flags", [f.name for f in plan.flags], "name")
    for i, flag in enumerate(plan.flags):
        if flag.provider not in plan.providers:
            problems.append((f"flags.{i}.provider", f"unknown provider {flag.provider!r}"))
    if UNWIRED in plan.sources:
        problems.append((f"sources.{UNWIRED}", f"{UNWIRED!r} is reserved for metrics and checks not wired yet"))
    for name, metric in plan.metrics.items():
        if metric.source not in plan.sources and metric.source != UNWIRED:
            problems.append((f"metrics.{name}.source", f"unknown source {metric.source!r}"))
        elif metric.source in plan.sources and isinstance(plan.sources[metric.source], CommandSource):
            problems += _command_metric_problems(name, metric)
    for si, stage in enumerate(plan.stages):
        at = f"stages.{si}"
        _unique(problems, f"{at}.items", [it.id for it in stage.items], "id")
        _unique(problems, f"{at}.checks", [c.id for c in stage.checks], "id")
        for fi, flag_name in enumerate(stage.flags):
            if flag_name not in flag_names:
                problems.append((f"{at}.flags.{fi}", f"unknown flag {flag_name!r}"))
        canary_ids = {step.id for step in stage.canary}
        for ii, item in enumerate(stage.items):
            if item.after_soak and item.after_soak not in canary_ids:
                problems.append(
                    (f"{at}.items.{ii}.after_soak", f"{item.after_soak!r} is not a canary step of {stage.id}")
                )
        for ci, step in enumerate(stage.canary):
            if step.flag not in flag_names:
                problems.append((f"{at}.canary.{ci}.flag", f"unknown flag {step.flag!r}"))
        for ri, req in enumerate(stage.requires):
            if req not in stage_ids[:si]:
                problems.append((f"{at}.requires.{ri}", f"{req!r} is not an earlier stage"))
        for ci, check in enumerate(stage.checks):
            if check.source not in plan.sources and check.source != UNWIRED:
                problems.append((f"{at}.checks.{ci}.source", f"unknown source {check.source!r}"))
        for ti, rule in enumerate(stage.thresholds):
            measured = plan.metrics.get(rule.metric)
            if measured is None:
                problems.append((f"{at}.thresholds.{ti}.metric", f"unknown metric {rule.metric!r}"))
                continue
            for key, th in (("threshold", rule.threshold), ("warn", rule.warn)):
                if th is not None and (why := th.incompatible_with(measured.unit, measured.kind)):
                    problems.append((f"{at}.thresholds.{ti}.{key}", why))
    problems += _value_problems(plan)
    problems += keymap_problems(plan.keys)
    if (plan.rollout.require_signatures or any(a.principals for a in plan.approvers)) and not (
        plan.rollout.allowed_signers
    ):
        key = "rollout.require_signatures" if plan.rollout.require_signatures else "approvers"
        problems.append((key, "signatures need rollout.allowed_signers (an OpenSSH allowed_signers file)"))
    return problems


POSITIVE_DURATIONS = (
    "poll_interval",
    "stale_after",
    "arm_interval",
    "history_retention",
    "interval",
    "rate_window",
    "timeout",
    "connect_timeout",
    "statement_timeout",
)
"""Duration fields that must be longer than zero when given (``poll_interval = "0s"`` makes every metric STALE)."""


def _value_problems(plan: Plan) -> list[tuple[str, str]]:
    """Values that parse but cannot work: intervals of zero, regular expressions that do not compile,
    numbers that are not finite."""
    problems: list[tuple[str, str]] = []
    parts: list[tuple[str, Model]] = [("defaults", plan.defaults)]
    parts += [(f"metrics.{n}", m) for n, m in plan.metrics.items()]
    parts += [(f"sources.{n}", s) for n, s in plan.sources.items()]
    parts += [(f"providers.{n}", p) for n, p in plan.providers.items()]
    for at, part in parts:
        for name in POSITIVE_DURATIONS:
            if name not in part.__struct_fields__:  # each kind of source or provider has its own timeouts
                continue
            value = getattr(part, name)  # a Struct's field, by name
            if isinstance(value, timedelta) and value <= timedelta(0):
                problems.append((f"{at}.{name}", "must be longer than 0s"))
    for name, metric in plan.metrics.items():
        problems += _regex_problem(f"metrics.{name}.expect_regex", metric.expect_regex)
        if not math.isfinite(metric.scale) or metric.scale == 0:
            problems.append((f"metrics.{name}.scale", "must be a finite number other than 0"))
    for si, stage in enumerate(plan.stages):
        for ci, check in enumerate(stage.checks):
            at = f"stages.{si}.checks.{ci}"
            if check.expect_regex:
                problems += _regex_problem(f"{at}.expect_regex", check.expect_regex)
            elif check.kind == "command" and check.expect:  # the human form is the pattern then
                problems += _regex_problem(f"{at}.expect", check.expect)
            if check.expect_value is not None and not math.isfinite(check.expect_value):
                problems.append((f"{at}.expect_value", "must be a finite number"))
    return problems


def _regex_problem(at: str, pattern: str) -> list[tuple[str, str]]:
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        return [(at, f"invalid regular expression {pattern!r}: {exc}")]
    return []


def _command_metric_problems(name: str, metric: Metric) -> list[tuple[str, str]]:
    """A command metric says how its output becomes a value: a number needs ``value_regex`` or ``json_path``."""
    at = f"metrics.{name}"
    if metric.kind == "text":
        return []
    if not metric.value_regex and not metric.json_path:
        return [(at, f"a {metric.kind} on a command source needs value_regex (one group) or json_path")]
    if metric.value_regex:
        try:
            groups = re.compile(metric.value_regex).groups
        except re.error as exc:
            return [(f"{at}.value_regex", f"not a regular expression: {exc}")]
        if groups != 1:
            return [(f"{at}.value_regex", f"needs exactly one group (the number), has {groups}")]
    return []


def _unique(problems: list[tuple[str, str]], at: str, values: list[str], key: str) -> None:
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value in seen:
            problems.append((f"{at}.{i}.{key}", f"duplicate {key} {value!r}"))
        seen.add(value)
