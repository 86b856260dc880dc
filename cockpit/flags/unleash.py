"""Unleash admin API: per-environment on/off, bulk off in one call, percentages via flexibleRollout.

The admin token (``${VAR}``) goes in the ``Authorization`` header as Unleash expects it (no "Bearer").
A project with change requests enabled refuses direct changes with 403; arming detects that up front
where the server exposes its change-request configuration, and the kill reports it per flag.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from cockpit.flags import ArmStatus, FlagError, FlagReading, arm_from_readings, describe_http, describe_status
from cockpit.plan.model import Flag, UnleashProvider
from cockpit.secrets import Env, UnsetVariable


class UnleashFlags:
    """The ``kind = "unleash"`` provider."""

    def __init__(self, spec: UnleashProvider, env: Env, client: httpx.AsyncClient) -> None:
        self.spec = spec
        self.env = env
        self.client = client

    # ----------------------------------------------------------------- plumbing

    def _project(self) -> str:
        return f"{self.env.resolve(self.spec.url).rstrip('/')}/api/admin/projects/{self.spec.project}"

    def _env_path(self, flag: Flag) -> str:
        return f"{self._project()}/features/{flag.provider_key}/environments/{self.spec.environment}"

    async def _call(self, method: str, url: str, body: Any = None) -> httpx.Response:
        try:
            headers = {"Authorization": self.env.resolve(self.spec.token), "Content-Type": "application/json"}
        except UnsetVariable as exc:
            raise FlagError(str(exc)) from None
        try:
            response = await self.client.request(
                method,
                url,
                headers=headers,
                content=None if body is None else json.dumps(body),
                timeout=self.spec.timeout.total_seconds(),
            )
        except Exception as exc:
            raise FlagError(self.env.redact(describe_http(exc))) from None
        if response.status_code == 403 and "SKIP_CHANGE_REQUEST" in response.text:
            raise FlagError(
                f"HTTP 403: change requests are enabled in {self.spec.project}/{self.spec.environment}; "
                "the change needs an approved change request (or a token allowed to skip them)"
            )
        if response.status_code >= 300:
            raise FlagError(self.env.redact(describe_status(response)))
        return response

    # ----------------------------------------------------------------- the interface

    async def _read_one(self, flag: Flag) -> FlagReading:
        try:
            data = (await self._call("GET", self._env_path(flag))).json()
        except FlagError as exc:
            return FlagReading(flag.name, None, None, str(exc))
        except ValueError:
            return FlagReading(flag.name, None, None, "read-back is not JSON")
        enabled = bool(data.get("enabled"))
        return FlagReading(flag.name, enabled, rollout_percent(data.get("strategies") or []) if enabled else 0)

    async def read(self, flags: list[Flag]) -> dict[str, FlagReading]:
        readings = await asyncio.gather(*(self._read_one(f) for f in flags))
        return {r.flag: r for r in readings}

    async def off(self, flags: list[Flag]) -> dict[str, str | None]:
        """One bulk call; when it fails, each flag is tried on its own so every flag gets its reason."""
        if not flags:
            return {}
        url = f"{self._project()}/bulk_features/environments/{self.spec.environment}/off"
        try:
            await self._call("POST", url, {"features": [f.provider_key for f in flags]})
            return {f.name: None for f in flags}
        except FlagError:
            pass  # Unleash applies the rest and rejects the batch; find out which flag failed
        results = await asyncio.gather(*(self._off_one(f) for f in flags))
        return {f.name: e for f, e in zip(flags, results, strict=True)}

    async def _off_one(self, flag: Flag) -> str | None:
        try:
            await self._call("POST", f"{self._env_path(flag)}/off")
        except FlagError as exc:
            return str(exc)
        return None

    async def set_percent(self, flag: Flag, percent: int) -> None:
        if percent <= 0:
            await self._call("POST", f"{self._env_path(flag)}/off")
            return
        strategies_url = f"{self._env_path(flag)}/strategies"
        strategies = (await self._call("GET", strategies_url)).json()
        params = {"rollout": str(percent), "stickiness": "default", "groupId": flag.provider_key}
        existing = next((s for s in strategies if s.get("name") == "flexibleRollout"), None)
        if existing is None:
            await self._call("POST", strategies_url, {"name": "flexibleRollout", "parameters": params})
        else:
            body = {"name": "flexibleRollout", "parameters": {**existing.get("parameters", {}), **params}}
            await self._call("PUT", f"{strategies_url}/{existing['id']}", body)
        await self._call("POST", f"{self._env_path(flag)}/on")

    async def arm(self, flags: list[Flag]) -> ArmStatus:
        readings, blocked = await asyncio.gather(self.read(flags), self._change_requests())
        return arm_from_readings(readings, [blocked] if blocked else [])

    async def _change_requests(self) -> str:
        """A reason when change requests are on for our environment (the enterprise config endpoint)."""
        try:
            data = (await self._call("GET", f"{self._project()}/change-requests/config")).json()
        except (FlagError, ValueError):
            return ""  # open-source servers have no such endpoint: nothing to report
        for entry in data if isinstance(data, list) else []:
            if entry.get("environment") == self.spec.environment and entry.get("changeRequestEnabled"):
                return (
                    f"change requests are enabled in {self.spec.project}/{self.spec.environment}: "
                    "a kill would wait for approval"
                )
        return ""


def rollout_percent(strategies: list[dict[str, Any]]) -> int:
    """100 unless every active strategy is a flexibleRollout; then the largest rollout."""
    active = [s for s in strategies if not s.get("disabled")]
    if not active or any(s.get("name") != "flexibleRollout" for s in active):
        return 100
    return max(int(float(s.get("parameters", {}).get("rollout", 100))) for s in active)
