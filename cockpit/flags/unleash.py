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
        """Several flags: one list call for the project (a kill's read-back is one round trip); a flag found
        enabled there (its percentage is not in the list) or missing from it is then read on its own."""
        if len(flags) < 2:
            return {r.flag: r for r in await asyncio.gather(*(self._read_one(f) for f in flags))}
        try:
            listed = _json(await self._call("GET", f"{self._project()}/features"))
        except FlagError as exc:
            return {f.name: FlagReading(f.name, None, None, str(exc)) for f in flags}
        enabled: dict[str, bool] = {}
        for feature in listed.get("features") or []:
            for env in feature.get("environments") or [] if isinstance(feature, dict) else []:
                if isinstance(env, dict) and env.get("name") == self.spec.environment:
                    enabled[str(feature.get("name"))] = bool(env.get("enabled"))
        readings = {f.name: FlagReading(f.name, False, 0) for f in flags if enabled.get(f.provider_key) is False}
        rest = [f for f in flags if f.name not in readings]
        readings.update({r.flag: r for r in await asyncio.gather(*(self._read_one(f) for f in rest))})
        return readings

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
        """Set the one flexibleRollout strategy of the plan's environment to ``percent``, then read back.

        Only the rollout percentage changes: constraints, segments, variants, stickiness, groupId and
        title stay. Refused (nothing written) when other strategies of the environment would expose the
        flag anyway; after writing, the flag's *effective* exposure there (every strategy, the
        environment enabled) must be ``percent``, or a :class:`FlagError` says what it is instead.
        """
        where = f"{self.spec.project}/{self.spec.environment}"
        if percent <= 0:
            await self._call("POST", f"{self._env_path(flag)}/off")
            env = await self._environment(flag)
            if env.get("enabled"):
                raise FlagError(f"after the off call {flag.provider_key} is still enabled in {where}")
            return
        env = await self._environment(flag)
        rollouts = [s for s in env.get("strategies") or [] if s.get("name") == "flexibleRollout"]
        rollouts.sort(key=lambda s: bool(s.get("disabled")))  # an active one is the one to manage
        others = [s for s in active_strategies(env) if s not in rollouts[:1]]
        if others:
            raise FlagError(
                f"refused: other strategies in {where} would expose {flag.provider_key} anyway: "
                f"{', '.join(describe_strategy(s) for s in others)}; the cockpit manages exactly one "
                "flexibleRollout strategy per environment: remove or disable the others in Unleash first"
            )
        strategies_url = f"{self._env_path(flag)}/strategies"
        if rollouts:
            existing = rollouts[0]
            body = {k: existing[k] for k in KEPT_FIELDS if k in existing}
            parameters = {**(existing.get("parameters") or {}), "rollout": str(percent)}
            parameters.setdefault("stickiness", "default")
            parameters.setdefault("groupId", flag.provider_key)
            body.update(name="flexibleRollout", parameters=parameters, disabled=False)
            await self._call("PUT", f"{strategies_url}/{existing['id']}", body)
            managed = str(existing["id"])
        else:
            params = {"rollout": str(percent), "stickiness": "default", "groupId": flag.provider_key}
            created = await self._call("POST", strategies_url, {"name": "flexibleRollout", "parameters": params})
            managed = str(_json(created).get("id", ""))
        if not env.get("enabled"):
            await self._call("POST", f"{self._env_path(flag)}/on")
        problem = exposure_problem(await self._environment(flag), percent, managed)
        if problem:
            raise FlagError(f"after the change {flag.provider_key} in {where} {problem}, not the {percent}% asked")

    async def _environment(self, flag: Flag) -> dict[str, Any]:
        """The plan's environment of the flag as Unleash reports it: ``enabled`` and every strategy."""
        data = _json(await self._call("GET", f"{self._project()}/features/{flag.provider_key}"))
        for env in data.get("environments") or []:
            if isinstance(env, dict) and env.get("name") == self.spec.environment:
                return env
        raise FlagError(f"{flag.provider_key} has no environment {self.spec.environment!r} in {self.spec.project}")

    async def arm(self, flags: list[Flag]) -> ArmStatus:
        """Each flag read on its own (their percentages), which also opens the connections a kill reuses."""
        each = asyncio.gather(*(self._read_one(f) for f in flags))
        readings, blocked = await asyncio.gather(each, self._change_requests())
        return arm_from_readings({r.flag: r for r in readings}, [blocked] if blocked else [])

    async def warm(self) -> None:
        """One cheap request on an open connection, so the server does not close it while idle."""
        try:
            await self.client.get(f"{self.env.resolve(self.spec.url).rstrip('/')}/health", timeout=2.0)
        except Exception:  # warming is best effort; arming reports what is wrong
            pass

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


KEPT_FIELDS = ("title", "constraints", "variants", "segments", "sortOrder")
"""A managed strategy's fields sent back unchanged when its percentage changes."""


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        raise FlagError("Unleash answered with something that is not JSON") from None
    return data if isinstance(data, dict) else {}


def active_strategies(env: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in env.get("strategies") or [] if isinstance(s, dict) and not s.get("disabled")]


def describe_strategy(strategy: dict[str, Any]) -> str:
    """``default`` or ``flexibleRollout 100% (2 constraints, 1 segment)``, with its title when it has one."""
    name = str(strategy.get("name", "?"))
    if name == "flexibleRollout":
        name += f" {(strategy.get('parameters') or {}).get('rollout', '?')}%"
    extra = [
        f"{len(items)} {label}{'s' if len(items) != 1 else ''}"
        for label, items in (("constraint", strategy.get("constraints")), ("segment", strategy.get("segments")))
        if items
    ]
    title = f" {strategy['title']!r}" if strategy.get("title") else ""
    return name + title + (f" ({', '.join(extra)})" if extra else "")


def exposure_problem(env: dict[str, Any], percent: int, managed: str) -> str:
    """Why the environment's effective exposure is not ``percent`` through strategy ``managed`` ("" if it is)."""
    if not env.get("enabled"):
        return "is disabled"
    active = active_strategies(env)
    others = [s for s in active if str(s.get("id")) != managed]
    if others:
        return f"is also exposed by {', '.join(describe_strategy(s) for s in others)}"
    mine = next((s for s in active if str(s.get("id")) == managed), None)
    if mine is None:
        return "has no active rollout strategy (exposed to everyone)"
    got = (mine.get("parameters") or {}).get("rollout")
    if str(got) != str(percent):
        return f"is at {got}%"
    return ""


def rollout_percent(strategies: list[dict[str, Any]]) -> int:
    """100 unless every active strategy is a flexibleRollout; then the largest rollout."""
    active = [s for s in strategies if not s.get("disabled")]
    if not active or any(s.get("name") != "flexibleRollout" for s in active):
        return 100
    return max(int(float(s.get("parameters", {}).get("rollout", 100))) for s in active)
