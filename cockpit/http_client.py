"""The HTTP client the cockpit's sources and flag providers share.

Loading the certificate store for TLS costs 20-30 ms, most of what ``cockpit check`` spends on its own
when every source is plain ``http://``. So ``https://`` requests go through a transport that builds its
(fully verifying) TLS setup on the first https request; ``http://`` requests never use TLS at all.
"""

from __future__ import annotations

from typing import Any

import httpcore
import httpx

from cockpit.http_preconnect import Preconnect


class TLSOnFirstUse(httpx.AsyncBaseTransport):
    """An ordinary verifying :class:`httpx.AsyncHTTPTransport`, created when first needed."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._transport: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._transport is None:  # no await between the test and the assignment: one per client
            self._transport = httpx.AsyncHTTPTransport(**self._options)
        return await self._transport.handle_async_request(request)

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()


__all__ = ["Preconnect", "TLSOnFirstUse", "new_client"]


class _PlainHTTP(httpx.AsyncHTTPTransport):
    """httpx's transport on a :class:`Preconnect` backend.

    httpx has no parameter for a network backend, so its connection pool is replaced by the same pool
    with the backend (``_pool`` is httpx's attribute; ``tests/test_kill_preconnect.py`` notices a change).
    """

    def __init__(self, limits: httpx.Limits, backend: Preconnect) -> None:
        super().__init__(limits=limits, verify=False)
        self._pool = httpcore.AsyncConnectionPool(
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


def new_client(
    *, max_connections: int = 200, keepalive_expiry: float = 5.0, preconnect: Preconnect | None = None
) -> httpx.AsyncClient:
    """A client for sources and flag providers: no redirects followed, timeouts set per request.

    ``keepalive_expiry``: seconds an idle connection is kept open (the kill switch keeps its connections
    longer than the arm interval, so the arm checks keep them warm for a kill). ``preconnect``: plain
    http requests take the connections it opened early.
    """
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=50, keepalive_expiry=keepalive_expiry
    )
    # plain http never negotiates TLS, so this transport needs no certificate store
    plain = _PlainHTTP(limits, preconnect) if preconnect else httpx.AsyncHTTPTransport(limits=limits, verify=False)
    return httpx.AsyncClient(
        follow_redirects=False,
        timeout=httpx.Timeout(10.0),
        transport=plain,
        mounts={"https://": TLSOnFirstUse(limits=limits)},
    )
