"""Connections opened before the first request needs them (``cockpit kill`` opens them while the plan loads).

Only httpcore (and anyio) here, not httpx: the connections start opening before httpx is imported.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpcore


class Preconnect(httpcore.AsyncNetworkBackend):
    """TCP connections opened before the first request needs them; a request takes one when it connects.

    ``cockpit kill`` opens its providers' connections while the plan loads: the handshake's round trip
    overlaps the start-up instead of following it. A connection that failed to open is tried afresh.
    """

    def __init__(self) -> None:
        self._backend = httpcore.AnyIOBackend()
        self._opening: dict[tuple[str, int], list[asyncio.Task[httpcore.AsyncNetworkStream]]] = {}
        self.taken = 0
        """Requests that found their connection already opening or open."""

    def open(self, host: str, port: int, *, count: int = 1, timeout: float = 5.0) -> None:
        """Start opening ``count`` connections to ``host:port`` (call from the event loop)."""
        loop = asyncio.get_running_loop()
        for _ in range(count):
            task = loop.create_task(self._backend.connect_tcp(host, port, timeout=timeout))
            self._opening.setdefault((host, port), []).append(task)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        waiting = self._opening.get((host, port), [])
        while waiting:
            task = waiting.pop(0)
            try:
                stream = await asyncio.wait_for(asyncio.shield(task), timeout)
            except TimeoutError:
                task.cancel()
                raise httpcore.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
            except Exception:
                continue  # that early attempt failed: the next one, or a fresh connection
            self.taken += 1
            return stream
        return await self._backend.connect_tcp(host, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        return await self._backend.connect_unix_socket(path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)

    async def aclose(self) -> None:
        """Close the connections opened early that no request took."""
        tasks = [t for waiting in self._opening.values() for t in waiting]
        self._opening.clear()
        for task in tasks:
            if not task.done():
                task.cancel()
            with contextlib.suppress(BaseException):
                await (await task).aclose()
