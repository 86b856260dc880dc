"""Flag providers: read a flag, turn it off, set its rollout percentage, check the switch is armed.

Each provider kind (Unleash, generic HTTP, env file, command) implements :class:`FlagProvider` for the
flags of the plan that name it. Failures never raise out of ``read``/``off``/``arm``: they come back as
one-line error strings (secrets redacted) so the kill switch can report every flag. Errors that start
with one of :data:`TRANSIENT_PREFIXES` (timeouts, 5xx, refused connections) are worth retrying.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import httpx
import msgspec

from cockpit.plan.model import Flag
from cockpit.secrets import cut

if TYPE_CHECKING:
    from cockpit.plan.load import LoadedPlan

TRANSIENT = re.compile(r"^(timed out|connection refused|connection failed|HTTP 5\d\d|\d{3} .*server)", re.I)


def is_transient(error: str) -> bool:
    """A failure that a retry may cure: a timeout, a refused connection, a 5xx."""
    return bool(TRANSIENT.match(error))


@dataclass(frozen=True)
class FlagReading:
    """A flag's state as its provider reports it; ``None`` means unknown."""

    flag: str
    enabled: bool | None
    percent: int | None
    error: str = ""

    @property
    def off(self) -> bool:
        """Verified off: the provider says disabled (or enabled at 0 %)."""
        return not self.error and (self.enabled is False or (self.enabled is True and self.percent == 0))

    def as_dict(self) -> dict[str, object]:
        return {"enabled": self.enabled, "percent": self.percent, "error": self.error}

    def describe(self) -> str:
        if self.error:
            return f"unknown ({self.error})"
        if self.enabled is None:
            return "unknown"
        if not self.enabled:
            return "OFF"
        return f"ON {self.percent}%" if self.percent is not None else "ON"


@dataclass(frozen=True)
class ArmStatus:
    """Can the kill switch fire? Checked read-only, in advance."""

    armed: bool
    reason: str
    readings: dict[str, FlagReading] = field(default_factory=dict)


class FlagProvider(Protocol):
    """One flag backend; every method takes the :class:`Flag` objects of the plan it serves."""

    async def read(self, flags: list[Flag]) -> dict[str, FlagReading]:
        """Current state of each flag (by flag name); errors in :attr:`FlagReading.error`."""
        ...

    async def off(self, flags: list[Flag]) -> dict[str, str | None]:
        """Turn the flags off (bulk where the backend can): flag name -> error, or None when accepted."""
        ...

    async def set_percent(self, flag: Flag, percent: int) -> None:
        """Turn the flag on at ``percent`` (0 turns it off); raise :class:`FlagError` on failure."""
        ...

    async def arm(self, flags: list[Flag]) -> ArmStatus:
        """Read-only check: credentials accepted, every flag readable, nothing would block a kill."""
        ...

    async def warm(self) -> None:
        """Keep the connections a kill will use open between arm checks (a no-op where nothing is kept)."""
        ...


class FlagError(Exception):
    """A provider could not do what was asked; the message is one line with no secret in it."""


def describe_http(exc: BaseException) -> str:
    """One line for a transport failure, in the words :func:`is_transient` knows."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "connection refused" if _refused(exc) else f"connection failed: {exc}"
    if isinstance(exc, httpx.HTTPError):
        return f"connection failed: {type(exc).__name__}: {exc}"
    return f"{type(exc).__name__}: {exc}"


def _refused(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, ConnectionRefusedError) or "refused" in str(exc).lower():
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def describe_status(response: httpx.Response) -> str:
    """``HTTP 503: injected fault 503`` — the status and the start of the server's message."""
    detail = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            detail = str(body.get("message") or body.get("error") or body.get("details") or "")
    except ValueError:
        detail = response.text
    detail = cut(" ".join(detail.split()), 160)
    return f"HTTP {response.status_code}" + (f": {detail}" if detail else "")


def explain(error: str) -> str:
    """An error as the operator needs it when arming: what it means for the kill switch."""
    if error.startswith(("HTTP 401", "HTTP 403")):
        if "change request" in error.lower() or "SKIP_CHANGE_REQUEST" in error:
            return f"change requests would block the kill ({error})"
        return f"credentials refused ({error})"
    if error.startswith("HTTP 404"):
        return f"flag missing ({error})"
    return error


def arm_from_readings(readings: dict[str, FlagReading], extra: list[str] | None = None) -> ArmStatus:
    """ARMED when every flag read cleanly; otherwise the reasons, one per problem."""
    reasons = list(extra or [])
    failing: dict[str, list[str]] = {}
    for name, reading in readings.items():
        if reading.error:
            failing.setdefault(explain(reading.error), []).append(name)
    reasons += [collapse(names, why) for why, names in failing.items()]
    return ArmStatus(not reasons, "; ".join(reasons) if reasons else "all flags readable", readings)


def collapse(names: list[str], why: str) -> str:
    """``FLAG: why`` for one flag, ``10 flags: why`` for several with the same reason."""
    return f"{names[0]}: {why}" if len(names) == 1 else f"{len(names)} flags: {why}"


def unresolved_providers(loaded: LoadedPlan) -> dict[str, str]:
    """Provider name -> why it cannot be used (``UNLEASH_TOKEN is not set``), for each provider whose
    ``${VAR}`` references cannot all be resolved; its flags cannot be driven, the others can."""
    result: dict[str, str] = {}
    for name, spec in loaded.plan.providers.items():
        unset = sorted(
            {n for text in _strings(msgspec.to_builtins(spec, enc_hook=str)) for n in loaded.env.check(text)}
        )
        if unset:
            result[name] = ", ".join(unset) + (" is not set" if len(unset) == 1 else " are not set")
    return result


def _strings(data: object) -> list[str]:
    if isinstance(data, dict):
        return [s for v in data.values() for s in _strings(v)]
    if isinstance(data, list):
        return [s for v in data for s in _strings(v)]
    return [data] if isinstance(data, str) else []


__all__ = [
    "ArmStatus",
    "FlagError",
    "FlagProvider",
    "FlagReading",
    "collapse",
    "describe_http",
    "describe_status",
    "is_transient",
    "unresolved_providers",
]
