"""Any HTTP flag API, driven from the plan's templates (LaunchDarkly, Flagsmith, an admin endpoint).

Templates take ``{flag}`` (the provider key), ``{percent}`` and ``{enabled}``; ``${VAR}`` references in
URLs, headers and bodies are resolved at the moment of each request and redacted from every error.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from cockpit.flags import (
    ArmStatus,
    FlagError,
    FlagReading,
    arm_from_readings,
    describe_http,
    describe_status,
)
from cockpit.plan.model import Flag, HttpProvider
from cockpit.secrets import Env, UnsetVariable


def json_path(data: Any, path: str) -> Any:
    """``a.b.0.c`` into nested JSON; raise KeyError when a step is missing."""
    node = data
    for part in path.split(".") if path else []:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(path)
    return node


def as_enabled(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value > 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "on", "1", "yes", "enabled"):
            return True
        if text in ("false", "off", "0", "no", "disabled", ""):
            return False
    return None


def as_percent(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return max(0, min(100, int(float(value))))
    except (TypeError, ValueError):
        return None


def fill(template: str, flag: Flag, percent: int | None = None, enabled: bool | None = None) -> str:
    text = template.replace("{flag}", flag.provider_key)
    if percent is not None:
        text = text.replace("{percent}", str(percent))
    if enabled is not None:
        text = text.replace("{enabled}", "true" if enabled else "false")
    return text


class HttpFlags:
    """The ``kind = "http"`` provider."""

    def __init__(self, spec: HttpProvider, env: Env, client: httpx.AsyncClient) -> None:
        self.spec = spec
        self.env = env
        self.client = client

    async def _request(self, method: str, url: str, body: str = "") -> httpx.Response:
        """One request; raise FlagError with a redacted one-line reason on any failure."""
        try:
            headers = self.env.resolve_all(self.spec.headers)
            url = self.env.resolve(url)
            content = self.env.resolve(body) if body else None
        except UnsetVariable as exc:
            raise FlagError(str(exc)) from None
        if content is not None:
            headers.setdefault("Content-Type", "application/json")
        try:
            response = await self.client.request(
                method.upper(), url, headers=headers, content=content, timeout=self.spec.timeout.total_seconds()
            )
        except Exception as exc:  # transport problems of every kind become one line
            raise FlagError(self.env.redact(describe_http(exc))) from None
        if response.status_code >= 300:
            raise FlagError(self.env.redact(describe_status(response)))
        return response

    async def _read_one(self, flag: Flag) -> FlagReading:
        try:
            response = await self._request("GET", fill(self.spec.read_url, flag))
            data = response.json()
        except FlagError as exc:
            return FlagReading(flag.name, None, None, str(exc))
        except ValueError:
            return FlagReading(flag.name, None, None, "read-back is not JSON")
        try:
            enabled = as_enabled(json_path(data, self.spec.enabled_path))
            percent = as_percent(json_path(data, self.spec.percent_path)) if self.spec.percent_path else None
        except KeyError as exc:
            return FlagReading(flag.name, None, None, f"read-back has no {exc.args[0]!r}")
        if enabled is None:
            return FlagReading(flag.name, None, percent, f"read-back {self.spec.enabled_path!r} is not a boolean")
        if percent is None and self.spec.percent_path == "":
            percent = 100 if enabled else 0
        return FlagReading(flag.name, enabled, percent)

    async def read(self, flags: list[Flag]) -> dict[str, FlagReading]:
        readings = await asyncio.gather(*(self._read_one(f) for f in flags))
        return {r.flag: r for r in readings}

    async def _off_one(self, flag: Flag) -> str | None:
        try:
            await self._send(self.spec.off, flag, 0, False)
        except FlagError as exc:
            return str(exc)
        return None

    async def _send(self, action: dict[str, str], flag: Flag, percent: int, enabled: bool) -> None:
        url = action.get("url", "")
        if not url:
            raise FlagError("the provider has no URL for this action")
        body = fill(action.get("body", ""), flag, percent, enabled)
        await self._request(action.get("method", "POST"), fill(url, flag, percent, enabled), body)

    async def off(self, flags: list[Flag]) -> dict[str, str | None]:
        errors = await asyncio.gather(*(self._off_one(f) for f in flags))
        return {f.name: e for f, e in zip(flags, errors, strict=True)}

    async def set_percent(self, flag: Flag, percent: int) -> None:
        if percent <= 0:
            await self._send(self.spec.off, flag, 0, False)
        elif self.spec.percent:
            await self._send(self.spec.percent, flag, percent, True)
        elif percent == 100 and self.spec.on:
            await self._send(self.spec.on, flag, 100, True)
        else:
            raise FlagError("this provider has no 'percent' action; only 0 or 100 (with 'on') can be set")

    async def arm(self, flags: list[Flag]) -> ArmStatus:
        return arm_from_readings(await self.read(flags))

    async def warm(self) -> None:
        """Nothing cheap to ask a generic API; a kill on a cold connection costs one more round trip."""
