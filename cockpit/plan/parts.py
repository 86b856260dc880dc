"""Building blocks of the plan: durations, the frozen base model, people, sources, flag providers.

Split from :mod:`cockpit.plan.model` (which re-exports everything here); see that module for the whole plan.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Literal, TypeVar

import msgspec

from cockpit.plan.thresholds import Threshold

_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d))+\s*$")
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|min|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


MAX_DURATION = timedelta(days=3650)
"""The longest duration a plan may give (ten years): longer ones would overflow the clock arithmetic."""


def parse_duration(value: Any) -> timedelta:
    """Parse ``"24h"``, ``"5s"``, ``"1h30m"``, ``"250ms"`` (or a number of seconds) into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '5s' or '24h'")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return _bounded(float(value), value)
    if isinstance(value, str):
        if value.strip() in ("0", ""):
            return timedelta(0)
        if _DURATION.match(value):
            return _bounded(sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(value)), value)
    raise ValueError(f"expected a duration such as '5s' or '24h', got {value!r}")


def _bounded(seconds: float, value: Any) -> timedelta:
    if not seconds <= MAX_DURATION.total_seconds():  # also NaN and infinity
        raise ValueError(f"duration {value!r} is too long (at most {MAX_DURATION.days}d)")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """Render a timedelta the way an operator reads it: ``13h12m``, ``4m05s``, ``12s``."""
    total = int(max(delta.total_seconds(), 0))
    days, rem = divmod(total, 86400) if total >= 3 * 86400 else (0, total)
    hours, rem = divmod(rem, 3600)
    minutes, seconds = divmod(rem, 60)
    if days:
        return f"{days}d{hours:02d}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m{seconds:02d}s" if seconds else f"{minutes}m"
    return f"{seconds}s"


class Duration(timedelta):
    """A plan duration: a timedelta read from ``"24h"``, ``"5s"``, ``"1h30m"`` or a number of seconds.

    In the plan's digest (and any JSON of it) it is written the way :func:`format_duration` renders it.
    """

    __slots__ = ()

    @classmethod
    def of(cls, value: Any) -> Duration:
        delta = parse_duration(value)
        return delta if isinstance(delta, cls) else cls(delta.days, delta.seconds, delta.microseconds)


IDENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"

UNWIRED = "unwired"
"""A metric's or check's ``source`` that the plan does not know yet (``cockpit plan import`` writes it):
valid, warned about by ``validate``, never polled, NOT WIRED on the dashboard, and it blocks the gate."""
Ident = Annotated[str, msgspec.Meta(pattern=IDENT_PATTERN, min_length=1, max_length=64)]

_M = TypeVar("_M", bound="Model")


def dec_hook(kind: type, value: Any) -> Any:
    """msgspec's hook for the plan's own value types: :class:`Duration` and :class:`Threshold`."""
    if kind is Duration:
        return Duration.of(value)
    if kind is Threshold:
        return value if isinstance(value, Threshold) else Threshold.parse(value)
    raise NotImplementedError(f"unsupported type {kind!r}")


class Model(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Base: frozen, unknown keys are errors, keyword-only construction.

    (``kw_only`` is not inherited by msgspec, and mypy wants ``frozen`` restated, so every subclass passes both.)
    """

    @classmethod
    def model_validate(cls: type[_M], data: Any) -> _M:
        """Build from plain data (parsed TOML); raise ``msgspec.ValidationError`` at the first problem."""
        return msgspec.convert(data, cls, dec_hook=dec_hook)


# --------------------------------------------------------------------------- people


class Approver(Model, frozen=True, kw_only=True):
    """One of the pre-rollout approvals ("DO NOT PROCEED UNTIL ALL THREE ARE CHECKED")."""

    role: Ident
    """Role id used on the command line: ``cockpit approve dev-lead``."""
    title: str
    """Role as the checklist names it: "Dev Lead"."""
    handle: str
    """Who the checklist names: "@alok", "#platform-oncall"."""
    users: tuple[str, ...] = ()
    """OS usernames allowed to sign this role; empty means anyone."""
    principals: tuple[str, ...] = ()
    """SSH signing principals (names in ``rollout.allowed_signers``) whose keys may sign this role; empty
    means any principal of the file. See :mod:`cockpit.signing`."""


class Contact(Model, frozen=True, kw_only=True):
    """A row of "Emergency Contacts" or "Who to Call if Issues"."""

    issue: str
    contact: str
    method: str = ""


class IncidentStep(Model, frozen=True, kw_only=True):
    """One "Incident Response" step group: a deadline and what must be done by then."""

    id: Ident
    deadline: Duration
    """Time allowed from the incident opening; 0 means immediately."""
    label: str
    """As the seed says it: "Immediately", "Within 5 minutes"."""
    actions: tuple[str, ...]
    done_by_kill: bool = False
    """A kill that verifies every flag off completes this step ("Disable feature flag(s)")."""


# --------------------------------------------------------------------------- sources


class HttpSource(Model, frozen=True, kw_only=True, tag_field="kind", tag="http"):
    """A JSON HTTP endpoint (``/api/admin/dlq?stats=true``, ``/api/qc/debug``)."""

    kind: ClassVar[Literal["http"]] = "http"
    base_url: str
    """Base URL, usually ``${APP_URL}``."""
    headers: dict[str, str] = {}
    """Request headers; put tokens here as ``${VAR}``."""
    timeout: Duration = Duration(seconds=5)
    max_bytes: Annotated[int, msgspec.Meta(gt=0, le=1 << 30)] = 1_000_000
    """Bodies larger than this are refused."""


class PrometheusSource(Model, frozen=True, kw_only=True, tag_field="kind", tag="prometheus"):
    """A Prometheus server queried through ``/api/v1/query``."""

    kind: ClassVar[Literal["prometheus"]] = "prometheus"
    url: str
    headers: dict[str, str] = {}
    timeout: Duration = Duration(seconds=5)


class PostgresSource(Model, frozen=True, kw_only=True, tag_field="kind", tag="postgres"):
    """A PostgreSQL database, queried read-only with a statement timeout."""

    kind: ClassVar[Literal["postgres"]] = "postgres"
    dsn: str
    """libpq connection string, normally ``${DATABASE_URL}``."""
    connect_timeout: Duration = Duration(seconds=5)
    statement_timeout: Duration = Duration(seconds=5)


class CommandSource(Model, frozen=True, kw_only=True, tag_field="kind", tag="command"):
    """Local commands (the seed's ``./verification/health_check_script.sh``)."""

    kind: ClassVar[Literal["command"]] = "command"
    cwd: str = "."
    """Working directory, relative to the plan file."""
    timeout: Duration = Duration(seconds=30)
    env: dict[str, str] = {}


Source = HttpSource | PrometheusSource | PostgresSource | CommandSource
"""Tagged on ``kind``."""


# --------------------------------------------------------------------------- flags and providers


class UnleashProvider(Model, frozen=True, kw_only=True, tag_field="kind", tag="unleash"):
    kind: ClassVar[Literal["unleash"]] = "unleash"
    url: str
    token: str
    """Admin API token, as ``${VAR}``."""
    project: str = "default"
    environment: str = "production"
    timeout: Duration = Duration(seconds=5)


class HttpProvider(Model, frozen=True, kw_only=True, tag_field="kind", tag="http"):
    """Any HTTP flag API, driven from templates (``{flag}``, ``{percent}``, ``{enabled}``)."""

    kind: ClassVar[Literal["http"]] = "http"
    headers: dict[str, str] = {}
    off: dict[str, str]
    """``method``, ``url`` and optional ``body`` to turn a flag off."""
    on: dict[str, str] = {}
    percent: dict[str, str] = {}
    read_url: str
    enabled_path: str = "enabled"
    percent_path: str = ""
    timeout: Duration = Duration(seconds=5)


class EnvFileProvider(Model, frozen=True, kw_only=True, tag_field="kind", tag="envfile"):
    kind: ClassVar[Literal["envfile"]] = "envfile"
    path: str
    on_value: str = "true"
    off_value: str = "false"


class CommandProvider(Model, frozen=True, kw_only=True, tag_field="kind", tag="command"):
    kind: ClassVar[Literal["command"]] = "command"
    off: str
    on: str = ""
    percent: str = ""
    read: str
    """Prints the flag's state; ``true``/``on``/``1``/a percentage > 0 mean on."""
    timeout: Duration = Duration(seconds=10)


Provider = UnleashProvider | HttpProvider | EnvFileProvider | CommandProvider
"""Tagged on ``kind``."""


class Flag(Model, frozen=True, kw_only=True):
    """A feature flag of the rollout."""

    name: str
    """As the checklist names it: ``FEATURE_FLAG_DLQ_ENABLED``."""
    provider: str
    """Name of an entry in ``[providers]``."""
    key: str = ""
    """The flag's name in the provider, when it differs."""
    backout: str = ""

    @property
    def provider_key(self) -> str:
        return self.key or self.name


# --------------------------------------------------------------------------- the plan
