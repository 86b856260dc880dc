"""Where a kill's requests will go, read from the plan text before the plan is loaded.

``cockpit kill`` opens its connections while the plan loads and the audit log opens (a round trip
saved at 200 ms away). This reads only the TOML (no validation) and each provider's URL; anything it
cannot read is simply not opened early.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from cockpit.secrets import Env, UnsetVariable

MAX_EARLY = 10
"""Connections opened early per origin at most (one per flag for providers without a bulk call)."""


def provider_origins(text: str, environ: Mapping[str, str] | None = None) -> Counter[tuple[str, int]]:
    """``(host, port)`` of each plain-http provider origin, with how many connections a kill will want."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return Counter()
    providers = data.get("providers")
    flags = data.get("flags")
    if not isinstance(providers, dict) or not isinstance(flags, list):
        return Counter()
    per_provider = Counter(f.get("provider") for f in flags if isinstance(f, dict))
    env = Env(environ)
    wanted: Counter[tuple[str, int]] = Counter()
    for name, spec in providers.items():
        if not isinstance(spec, dict) or not per_provider.get(name):
            continue
        origin = _origin(env, _url(spec))
        if origin is not None:
            bulk = spec.get("kind") == "unleash"
            wanted[origin] = min(MAX_EARLY, max(wanted[origin], 1 if bulk else per_provider[name]))
    return wanted


def _url(spec: dict[str, Any]) -> str:
    if spec.get("kind") == "unleash":
        return str(spec.get("url", ""))
    if spec.get("kind") == "http":
        off = spec.get("off")
        return str(off.get("url", "")) if isinstance(off, dict) else ""
    return ""


def _origin(env: Env, template: str) -> tuple[str, int] | None:
    try:
        parts = urlsplit(env.resolve(template))
        port = parts.port or 80
    except (UnsetVariable, ValueError):
        return None
    if parts.scheme != "http" or not parts.hostname:
        return None  # https: the TLS setup is built on first use, not ahead
    return parts.hostname, port
