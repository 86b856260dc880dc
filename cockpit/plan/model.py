"""The rollout plan: one frozen, validated model of the whole checklist.

The plan is TOML (see ``config.example.toml``), loaded by :mod:`cockpit.plan.load`. Every string that may
hold a secret is kept here as written, with its ``${VAR}`` references unresolved; :class:`cockpit.secrets.Env`
resolves them at the moment of use, so the model (and its digest) never contains a secret.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Annotated, Any, Literal

import msgspec

from cockpit.plan.parts import (
    Approver,
    CommandProvider,
    CommandSource,
    Contact,
    Duration,
    EnvFileProvider,
    Flag,
    HttpProvider,
    HttpSource,
    Ident,
    IncidentStep,
    Model,
    PostgresSource,
    PrometheusSource,
    Provider,
    Source,
    UnleashProvider,
    dec_hook,
    format_duration,
    parse_duration,
)
from cockpit.plan.thresholds import Threshold

__all__ = [
    "Approver",
    "CanaryStep",
    "Check",
    "CommandProvider",
    "CommandSource",
    "Contact",
    "Defaults",
    "Duration",
    "EnvFileProvider",
    "Flag",
    "HttpProvider",
    "HttpSource",
    "Ident",
    "IncidentStep",
    "Item",
    "Metric",
    "Model",
    "Notify",
    "Plan",
    "PlanProblems",
    "PostgresSource",
    "PrometheusSource",
    "Provider",
    "Rollout",
    "Source",
    "Stage",
    "ThresholdRule",
    "UnleashProvider",
    "dec_hook",
    "format_duration",
    "parse_duration",
]

# --------------------------------------------------------------------------- metrics and checks


class Metric(Model, frozen=True, kw_only=True):
    """A live value polled from a source and judged against thresholds."""

    title: str
    source: str
    """Name of an entry in ``[sources]``."""
    unit: str = ""
    """``%``, ``ms``, ``count`` or empty; thresholds with a unit must match it."""
    kind: Literal["gauge", "counter", "text"] = "gauge"
    """``counter`` values are cumulative; their thresholds are usually per-hour rates."""
    path: str = ""
    """HTTP sources: request path and query, e.g. ``/api/qc/debug``."""
    json_path: str = ""
    """HTTP sources: dotted path into the JSON body, e.g. ``watchdogMetrics.heartbeatMisses``."""
    query: str = ""
    """Prometheus: PromQL. PostgreSQL: SQL."""
    result: Literal["scalar", "rows"] = "scalar"
    """PostgreSQL: the first column of the first row, or the number of rows."""
    command: str = ""
    """Command sources: the command line to run."""
    expect_regex: str = ""
    """Command sources: the output must match this for the value ``healthy``."""
    scale: float = 1.0
    """Multiply numeric values by this (ratio to %: 100; seconds to ms: 1000)."""
    interval: Duration | None = None
    """Poll interval; defaults to ``[defaults] poll_interval``."""
    stale_after: Duration | None = None
    """A last good sample older than this is STALE; defaults to three intervals."""
    rate_window: Duration = Duration(hours=1)
    """Sliding window for per-hour rates."""
    min_samples: Annotated[int, msgspec.Meta(ge=1)] = 2
    """Fewer samples than this in the window is INCONCLUSIVE."""
    consecutive: Annotated[int, msgspec.Meta(ge=1)] = 1
    """Breach only after this many consecutive bad samples."""


class Check(Model, frozen=True, kw_only=True):
    """A verification step: a command, SQL or HTTP request with an expected result."""

    id: Ident
    text: str
    """As the checklist writes it."""
    source: str
    kind: Literal["command", "sql", "http"]
    command: str = ""
    query: str = ""
    path: str = ""
    expect: str = ""
    """Human form of the expected result: ``OVERALL: HEALTHY``, ``0``, ``1 row``, ``200``."""
    expect_regex: str = ""
    expect_value: float | None = None
    """SQL: the scalar the query must return."""
    expect_rows: int | None = None
    """SQL: the number of rows the query must return."""
    expect_status: int = 200
    json_path: str = ""


class ThresholdRule(Model, frozen=True, kw_only=True):
    """A row of a "Metrics Thresholds" table."""

    metric: str
    """Name of an entry in ``[metrics]``."""
    label: str
    """Metric name as the checklist writes it: "Error rate change"."""
    threshold: Threshold
    """As the checklist writes it: ``< 1%``, ``< 500ms``, ``< +15%``, ``< 5/hour``, ``== healthy``."""
    warn: Threshold | None = None
    """Optional earlier warning level, same form."""
    auto_kill: bool = False
    """Opt-in: a breach outlasting ``auto_kill_after`` fires the kill switch."""
    auto_kill_after: Duration = Duration(minutes=5)


class Item(Model, frozen=True, kw_only=True):
    """A checkbox of the checklist."""

    id: Ident
    text: str
    section: str = "Actions"
    """Heading the item sits under: "Pre-Migration", "Week 1: 5% Canary", "Final Checklist"."""


class CanaryStep(Model, frozen=True, kw_only=True):
    """Set a flag to a percentage, then soak."""

    id: Ident
    flag: str
    percent: Annotated[int, msgspec.Meta(ge=0, le=100)]
    soak: Duration = Duration(0)
    """Wait/soak period after the step, during which no breach may happen."""
    soak_label: str = ""
    """As the checklist says it: "Wait 24 hours before increasing to 100%"."""
    on_breach: Literal["restart", "fail"] = "restart"
    """A breach during the soak restarts the timer, or fails the step."""


class Stage(Model, frozen=True, kw_only=True):
    """A stage of the rollout (Stage 0-3, post-rollout)."""

    id: Ident
    title: str
    items: tuple[Item, ...] = ()
    checks: tuple[Check, ...] = ()
    thresholds: tuple[ThresholdRule, ...] = ()
    canary: tuple[CanaryStep, ...] = ()
    requires: tuple[str, ...] = ()
    """Prerequisite stages that must be completed and stable (no open breach)."""
    flags: tuple[str, ...] = ()
    """Flags this stage turns on; its backout turns these off."""
    irreversible: bool = False
    """A point of no return: after it, turning the flags off is not a full backout."""
    captures_baseline: bool = False
    """This stage records the baseline snapshot for relative thresholds."""
    backout: str = ""
    """The manual backout command, as the checklist gives it."""
    contacts: tuple[Contact, ...] = ()
    """Who to call if this stage has issues."""


class Defaults(Model, frozen=True, kw_only=True):
    poll_interval: Duration = Duration(seconds=5)
    stale_after: Duration | None = None
    arm_interval: Duration = Duration(seconds=60)
    """How often the kill switch's providers are re-checked (ARMED / NOT ARMED)."""
    history_retention: Duration = Duration(days=14)
    """How long metric samples are kept (older than an hour they are thinned to one a minute)."""
    auto_kill_countdown: Duration = Duration(seconds=30)
    """Auto-kill: time between the countdown appearing (on every cockpit) and the kill firing."""


class Notify(Model, frozen=True, kw_only=True):
    webhooks: tuple[str, ...] = ()
    """Slack-compatible incoming-webhook URLs (``${VAR}``)."""
    on: tuple[Literal["kill", "breach", "approval", "stage"], ...] = ("kill", "breach", "approval", "stage")


class Rollout(Model, frozen=True, kw_only=True):
    id: Ident
    """One audit log per rollout id."""
    service: str
    version: str
    date: str = ""
    store: Literal["file", "postgres"] = "file"
    audit_log: str = ""
    """File store: path of the audit log; default: the XDG state directory."""
    state_dir: str = ""
    """Where history and captures go; default: the XDG state directory."""
    dsn: str = ""
    """PostgreSQL store: connection string as ``${VAR}``."""
    allow_multiple_roles: bool = False
    """Let one person sign more than one approval role."""


class Plan(Model, frozen=True, kw_only=True):
    """The whole rollout, as the checklist has it."""

    rollout: Rollout
    defaults: Defaults = msgspec.field(default_factory=Defaults)
    approvers: tuple[Approver, ...]
    stages: Annotated[tuple[Stage, ...], msgspec.Meta(min_length=1)]
    flags: tuple[Flag, ...] = ()
    providers: dict[str, Provider] = {}
    sources: dict[str, Source] = {}
    metrics: dict[str, Metric] = {}
    contacts: tuple[Contact, ...] = ()
    incident: tuple[IncidentStep, ...] = ()
    notify: Notify = msgspec.field(default_factory=Notify)
    keys: dict[str, str] = {}
    """Key remapping for the TUI: action id to key, e.g. ``kill = "K"``."""

    def __post_init__(self) -> None:
        """Cross-reference checks; raise :class:`PlanProblems` (inside ``msgspec.convert``: its cause)."""
        problems: list[tuple[str, str]] = []
        flag_names = {f.name for f in self.flags}
        stage_ids = [s.id for s in self.stages]
        _unique(problems, "approvers", [a.role for a in self.approvers], "role")
        _unique(problems, "stages", stage_ids, "id")
        _unique(problems, "flags", [f.name for f in self.flags], "name")
        for i, flag in enumerate(self.flags):
            if flag.provider not in self.providers:
                problems.append((f"flags.{i}.provider", f"unknown provider {flag.provider!r}"))
        for name, metric in self.metrics.items():
            if metric.source not in self.sources:
                problems.append((f"metrics.{name}.source", f"unknown source {metric.source!r}"))
        for si, stage in enumerate(self.stages):
            at = f"stages.{si}"
            _unique(problems, f"{at}.items", [it.id for it in stage.items], "id")
            _unique(problems, f"{at}.checks", [c.id for c in stage.checks], "id")
            for fi, flag_name in enumerate(stage.flags):
                if flag_name not in flag_names:
                    problems.append((f"{at}.flags.{fi}", f"unknown flag {flag_name!r}"))
            for ci, step in enumerate(stage.canary):
                if step.flag not in flag_names:
                    problems.append((f"{at}.canary.{ci}.flag", f"unknown flag {step.flag!r}"))
            for ri, req in enumerate(stage.requires):
                if req not in stage_ids[:si]:
                    problems.append((f"{at}.requires.{ri}", f"{req!r} is not an earlier stage"))
            for ci, check in enumerate(stage.checks):
                if check.source not in self.sources:
                    problems.append((f"{at}.checks.{ci}.source", f"unknown source {check.source!r}"))
            for ti, rule in enumerate(stage.thresholds):
                measured = self.metrics.get(rule.metric)
                if measured is None:
                    problems.append((f"{at}.thresholds.{ti}.metric", f"unknown metric {rule.metric!r}"))
                    continue
                for key, th in (("threshold", rule.threshold), ("warn", rule.warn)):
                    if th is not None and (why := th.incompatible_with(measured.unit, measured.kind)):
                        problems.append((f"{at}.thresholds.{ti}.{key}", why))
        if problems:
            raise PlanProblems(problems)

    # ----------------------------------------------------------------- lookups

    def stage(self, stage_id: str) -> Stage:
        for stage in self.stages:
            if stage.id == stage_id:
                return stage
        raise KeyError(stage_id)

    def stage_index(self, stage_id: str) -> int:
        return [s.id for s in self.stages].index(stage_id)

    def flag(self, name: str) -> Flag:
        for flag in self.flags:
            if flag.name == name:
                return flag
        raise KeyError(name)

    def approver(self, role: str) -> Approver:
        for approver in self.approvers:
            if approver.role == role:
                return approver
        raise KeyError(role)

    def interval(self, metric: Metric) -> timedelta:
        return metric.interval or self.defaults.poll_interval

    def stale_after(self, metric: Metric) -> timedelta:
        return metric.stale_after or self.defaults.stale_after or 3 * self.interval(metric)

    @property
    def digest(self) -> str:
        """SHA-256 of what approvers sign: stages, checks, thresholds, flags and approvers.

        A plan is frozen, so its digest is computed once (the gates ask for it on every redraw).
        """
        known = _DIGESTS.get(id(self))
        if known is not None and known[0] is self:
            return known[1]
        signed = {
            name: _jsonable(getattr(self, name)) for name in ("rollout", "approvers", "stages", "flags", "metrics")
        }
        blob = json.dumps(signed, sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(blob.encode()).hexdigest()
        _DIGESTS[id(self)] = (self, digest)  # holds the plan: a process loads a handful at most
        return digest


_DIGESTS: dict[int, tuple[Plan, str]] = {}


class PlanProblems(ValueError):
    """Cross-reference problems, each a (dotted key path, message) pair."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{k}: {m}" for k, m in problems))
        self.problems = problems


def _unique(problems: list[tuple[str, str]], at: str, values: list[str], key: str) -> None:
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value in seen:
            problems.append((f"{at}.{i}.{key}", f"duplicate {key} {value!r}"))
        seen.add(value)


def _jsonable(value: Any) -> Any:
    """Plain JSON data of a plan part, as pydantic's ``model_dump(mode="json")`` gave it (the digest depends on it).

    Every field, defaults included; durations as :func:`format_duration` text, thresholds as their text.
    """
    if isinstance(value, msgspec.Struct):
        config = value.__struct_config__
        out = {name: _jsonable(getattr(value, name)) for name in value.__struct_fields__}
        if isinstance(config.tag_field, str):
            out[config.tag_field] = config.tag
        return out
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, Threshold):
        return str(value)
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value
