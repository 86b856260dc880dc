"""The rollout plan: one frozen, validated model of the whole checklist.

The plan is TOML (see ``config.example.toml``), loaded by :mod:`cockpit.plan.load`. Every string that may
hold a secret is kept here as written, with its ``${VAR}`` references unresolved; :class:`cockpit.secrets.Env`
resolves them at the moment of use, so the model (and its digest) never contains a secret.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

import msgspec

from cockpit.plan.digest import digest_of, signed_content
from cockpit.plan.parts import (
    UNWIRED,
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
    "UNWIRED",
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
    "PostgresSource",
    "PrometheusSource",
    "Provider",
    "RolloutSettings",
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
    value_regex: str = ""
    """Command sources, gauges and counters: a regex with one group, the number (``dlq=(\\d+)``);
    or ``json_path`` into output that is JSON."""
    scale: float = 1.0
    """Multiply numeric values by this (ratio to %: 100; seconds to ms: 1000)."""
    interval: Duration | None = None
    """Poll interval; defaults to ``[defaults] poll_interval``."""
    stale_after: Duration | None = None
    """A last good sample older than this is STALE; defaults to three intervals."""
    rate_window: Duration = Duration(hours=1)
    """Sliding window for per-hour rates."""
    min_samples: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 2
    """Fewer samples than this in the window is INCONCLUSIVE."""
    consecutive: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 1
    """Breach only after this many consecutive bad samples."""

    @property
    def unwired(self) -> bool:
        """``source = "unwired"``: the plan does not say where this metric comes from yet."""
        return self.source == UNWIRED


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
    expect_rows: Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000)] | None = None
    """SQL: the number of rows the query must return."""
    expect_status: Annotated[int, msgspec.Meta(ge=100, le=599)] = 200
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
    after_soak: str = ""
    """A canary step id of the same stage: the item cannot be ticked before that step's soak completes."""


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
    kill_deadline: Duration = Duration(seconds=5)
    """The whole kill returns by then, whatever the providers do; flags still unresolved are reported
    "MAY STILL BE ON" and tried on in the background (their outcome audited)."""
    history_retention: Duration = Duration(days=14)
    """How long metric samples are kept (older than an hour they are thinned to one a minute)."""
    auto_kill_countdown: Duration = Duration(seconds=30)
    """Auto-kill: time between the countdown appearing (on every cockpit) and the kill firing."""


class Notify(Model, frozen=True, kw_only=True):
    webhooks: tuple[str, ...] = ()
    """Slack-compatible incoming-webhook URLs (``${VAR}``)."""
    on: tuple[Literal["kill", "breach", "approval", "stage"], ...] = ("kill", "breach", "approval", "stage")


class RolloutSettings(Model, frozen=True, kw_only=True):
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
    allowed_signers: str = ""
    """OpenSSH ``allowed_signers`` file: whose SSH keys may sign decisions (relative to the plan)."""
    require_signatures: bool = False
    """An unsigned or wrongly signed decision does not count (the gate says why)."""


class Plan(Model, frozen=True, kw_only=True):
    """The whole rollout, as the checklist has it."""

    rollout: RolloutSettings
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

    def baseline_needs(self) -> list[str]:
        """The metrics a relative threshold (or warning level) compares with the baseline, once each."""
        needed = [
            rule.metric
            for stage in self.stages
            for rule in stage.thresholds
            if rule.threshold.kind == "relative" or (rule.warn is not None and rule.warn.kind == "relative")
        ]
        return list(dict.fromkeys(needed))

    @property
    def signed(self) -> dict[str, Any]:
        """What approvers sign: everything but presentation (see :mod:`cockpit.plan.digest`)."""
        return self._signed()[0]

    @property
    def digest(self) -> str:
        """SHA-256 of :attr:`signed`.

        A plan is frozen, so its digest is computed once (the gates ask for it on every redraw).
        """
        return self._signed()[1]

    def _signed(self) -> tuple[dict[str, Any], str]:
        known = _DIGESTS.get(id(self))
        if known is not None and known[0] is self:
            return known[1], known[2]
        content = signed_content(self)
        digest = digest_of(content)
        _DIGESTS[id(self)] = (self, content, digest)  # holds the plan: a process loads a handful at most
        return content, digest


_DIGESTS: dict[int, tuple[Plan, dict[str, Any], str]] = {}
