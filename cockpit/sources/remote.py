"""Where live values come from: HTTP JSON endpoints and Prometheus (PostgreSQL and commands: sources_local).

Every reader is asynchronous and raises :class:`SourceError` with a one-line, operator-readable reason
for anything that is not a usable value: connection refused, timeout, a wrong status, a body that is
not JSON or is too big, a missing JSON path, a non-numeric or non-finite value. Secrets are resolved
from ``${VAR}`` at request time; callers redact messages before they are shown or stored.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from cockpit.http_client import new_client
from cockpit.plan.load import LoadedPlan
from cockpit.plan.model import CommandSource, HttpSource, Metric, PostgresSource, PrometheusSource, format_duration
from cockpit.secrets import UnsetVariable, cut
from cockpit.sources.errors import NoData, SourceError
from cockpit.sources.local import PgSessions, command_health, command_number, read_postgres
from cockpit.sources.replies import SharedReplies
from cockpit.sources.values import json_path, parse_json, to_number, to_value

__all__ = ["fetch_json", "json_path", "new_client", "read_metric"]


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: Any
    """The parsed JSON body (``None`` when the status was not the expected one)."""


def _secs(delta: timedelta) -> float:
    return max(delta.total_seconds(), 0.001)


class ConnectFailed(SourceError):
    """The server did not take the connection (refused, unreachable, no answer to connect)."""


def where(url: str) -> str:
    """``url`` as an error may show it: scheme, host, port and path; no user, password or query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def describe_http_error(exc: BaseException, timeout: timedelta) -> str:
    """One line for a failed request, without the URL's secrets (callers redact too)."""
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"timed out after {format_duration(timeout)}"
    if isinstance(exc, httpx.ConnectError):
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, ConnectionRefusedError) or "refused" in str(cause).lower():
                return "connection refused"
            cause = cause.__cause__ or cause.__context__
        return f"cannot connect: {exc or type(exc).__name__}"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return f"connection reset or closed by the server ({type(exc).__name__})"
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return f"bad URL: {exc}"
    if isinstance(exc, UnsetVariable):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


async def fetch_json(
    client: httpx.AsyncClient,
    url: str,
    *,
    headers: dict[str, str],
    timeout: timedelta,
    max_bytes: int = 1_000_000,
    params: dict[str, str] | None = None,
    expect_status: int | None = 200,
) -> HttpReply:
    """GET ``url``, stream at most ``max_bytes``, parse JSON; the whole exchange within ``timeout``."""
    try:
        async with asyncio.timeout(_secs(timeout)):
            async with client.stream(
                "GET", url, headers=headers, params=params, timeout=httpx.Timeout(_secs(timeout))
            ) as resp:
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise SourceError(f"body larger than the {max_bytes}-byte cap")
                    chunks.append(chunk)
    except SourceError:
        raise
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # which server would not answer: its URL
        raise ConnectFailed(f"{describe_http_error(exc, timeout)} ({where(url)})") from None
    except (httpx.HTTPError, TimeoutError, OSError) as exc:
        raise SourceError(describe_http_error(exc, timeout)) from None
    data = b"".join(chunks)
    if expect_status is not None and resp.status_code != expect_status:
        raise SourceError(_status_reason(resp.status_code, resp.reason_phrase, data))
    return HttpReply(resp.status_code, parse_json(data))


def _status_reason(status: int, phrase: str, data: bytes) -> str:
    hint = " (check the token)" if status in (401, 403) else ""
    detail = ""
    try:
        body = json.loads(data)
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            detail = f": {cut(body['error'], 120)}"
    except ValueError:
        pass
    return f"HTTP {status} {phrase}{hint}{detail}".rstrip()


# --------------------------------------------------------------------------- per-source readers


async def read_http(
    client: httpx.AsyncClient,
    loaded: LoadedPlan,
    src: HttpSource,
    path: str,
    path_in_json: str,
    shared: SharedReplies | None = None,
) -> Any:
    """The JSON value at ``path_in_json`` of ``GET base_url + path`` (the reply ``shared`` when given)."""
    env = loaded.env
    try:
        url = env.resolve(src.base_url).rstrip("/") + "/" + env.resolve(path).lstrip("/")
        headers = env.resolve_all(src.headers)
    except UnsetVariable as exc:
        raise SourceError(str(exc)) from None

    def fetch() -> Coroutine[Any, Any, HttpReply]:
        return fetch_json(client, url, headers=headers, timeout=src.timeout, max_bytes=src.max_bytes)

    if shared is None:
        reply = await fetch()
    else:
        reply = await shared.get((url, tuple(sorted(headers.items())), src.max_bytes), fetch)
    return json_path(reply.body, path_in_json)


async def read_prometheus(client: httpx.AsyncClient, loaded: LoadedPlan, src: PrometheusSource, query: str) -> float:
    """One instant query; a vector with one series or a scalar. Empty result: :class:`NoData`."""
    env = loaded.env
    try:
        url = env.resolve(src.url).rstrip("/") + "/api/v1/query"
        headers = env.resolve_all(src.headers)
    except UnsetVariable as exc:
        raise SourceError(str(exc)) from None
    reply = await fetch_json(
        client, url, headers=headers, timeout=src.timeout, params={"query": query}, expect_status=None
    )
    body = reply.body
    if not isinstance(body, dict):
        raise SourceError(f"Prometheus: unexpected answer (HTTP {reply.status})")
    if body.get("status") != "success":
        kind = body.get("errorType", "error")
        raise SourceError(f"Prometheus {kind}: {body.get('error', f'HTTP {reply.status}')}")
    data = body.get("data") or {}
    rtype, result = data.get("resultType"), data.get("result")
    if rtype == "scalar" and isinstance(result, list) and len(result) == 2:
        raw = result[1]
    elif rtype == "vector" and isinstance(result, list):
        if not result:
            raise NoData("no data: the query returned an empty result")
        if len(result) > 1:
            raise SourceError(f"the query returned {len(result)} series; expected one (aggregate it, e.g. sum())")
        raw = result[0].get("value", [None, None])[1]
    else:
        raise SourceError(f"Prometheus result type {rtype!r} is not supported (use a vector or scalar)")
    if raw in ("NaN", "+Inf", "-Inf"):
        raise SourceError(f"Prometheus returned {raw} (no traffic in the window?)")
    return to_number(raw)


async def read_metric(
    client: httpx.AsyncClient,
    loaded: LoadedPlan,
    metric: Metric,
    shared: SharedReplies | None = None,
    sessions: PgSessions | None = None,
) -> float | str:
    """One poll of ``metric``, as its kind wants it and multiplied by its ``scale``; SourceError otherwise.
    HTTP replies are shared with the other metrics of the same endpoint through ``shared``; PostgreSQL
    sources keep their connection in ``sessions`` (without it, each poll opens one)."""
    src = loaded.plan.sources[metric.source]
    try:
        if isinstance(src, HttpSource):
            value = to_value(await read_http(client, loaded, src, metric.path, metric.json_path, shared), metric)
        elif isinstance(src, PrometheusSource):
            value = to_value(await read_prometheus(client, loaded, src, metric.query), metric)
        else:
            value = await _read_local(loaded, src, metric, sessions)
    except ConnectFailed as exc:  # "connection refused" alone does not say by whom
        raise SourceError(f"source {metric.source!r}: {exc}") from None
    if isinstance(value, float) and metric.scale != 1.0:
        value *= metric.scale
    return value


async def _read_local(loaded: LoadedPlan, src: Any, metric: Metric, sessions: PgSessions | None) -> float | str:
    """A PostgreSQL or command source's poll."""
    if isinstance(src, PostgresSource):
        return to_value(await read_postgres(loaded, src, metric.query, metric.result, sessions), metric)
    if isinstance(src, CommandSource):
        if metric.kind == "text":
            return await command_health(loaded, src, metric.command, metric.expect_regex)
        return await command_number(loaded, src, metric)
    raise SourceError(f"unsupported source kind {type(src).__name__}")  # pragma: no cover
