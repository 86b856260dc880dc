"""One provider object per ``[providers.NAME]`` of the plan, of the kind it names."""

from __future__ import annotations

import httpx

from cockpit.flags import FlagProvider
from cockpit.flags.command import CommandFlags
from cockpit.flags.envfile import EnvFileFlags
from cockpit.flags.http import HttpFlags
from cockpit.flags.unleash import UnleashFlags
from cockpit.http_client import new_client
from cockpit.plan.load import LoadedPlan
from cockpit.plan.model import CommandProvider, EnvFileProvider, HttpProvider, UnleashProvider


def providers_for(loaded: LoadedPlan, client: httpx.AsyncClient | None = None) -> dict[str, FlagProvider]:
    """One provider object per ``[providers.NAME]`` of the plan; HTTP kinds share ``client``."""
    if client is None:
        client = new_client()
    result: dict[str, FlagProvider] = {}
    for name, spec in loaded.plan.providers.items():
        if isinstance(spec, UnleashProvider):
            result[name] = UnleashFlags(spec, loaded.env, client)
        elif isinstance(spec, HttpProvider):
            result[name] = HttpFlags(spec, loaded.env, client)
        elif isinstance(spec, EnvFileProvider):
            result[name] = EnvFileFlags(spec, loaded)
        elif isinstance(spec, CommandProvider):
            result[name] = CommandFlags(spec, loaded)
    return result
