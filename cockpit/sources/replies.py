"""Replies to identical requests, shared between the metrics that read one endpoint.

Plain asyncio (no httpx), so the monitor can own one before its first poll without loading the HTTP stack.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Hashable
from typing import Any


class SharedReplies:
    """Replies to identical GETs, shared between the metrics read from one endpoint (three metrics of the
    example plan read ``/api/qc/debug``): one request per polling round instead of one per metric.

    A request still in flight is always shared; a finished one is reused for at most ``max_age`` real
    seconds after it started (the monitor keeps that below its polling interval, so each round reads
    afresh). A failure is shared like a reply: it is the same endpoint's answer.
    """

    def __init__(self, max_age: float = 0.0) -> None:
        self.max_age = max_age
        self.requests = 0
        """Requests actually sent (the rest were shared)."""
        self._entries: dict[Hashable, tuple[float, asyncio.Future[Any]]] = {}

    async def get(self, key: Hashable, fetch: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
        now = time.monotonic()
        for old, (started, future) in list(self._entries.items()):
            if future.done() and now - started > self.max_age:
                del self._entries[old]
        entry = self._entries.get(key)
        if entry is None:
            self.requests += 1
            entry = self._entries[key] = (now, asyncio.ensure_future(fetch()))
        return await entry[1]
