"""A local TCP proxy that adds a round-trip time: what a flag API a continent away costs.

Each direction's bytes are held ``rtt / 2`` seconds (in order), and a new connection's first bytes one
more ``rtt`` (the TCP handshake a real connect costs). Runs its own event loop in a thread:
``with DelayProxy(target_host, target_port, rtt=0.2) as proxy: proxy.url``.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any


class DelayProxy:
    def __init__(self, host: str, port: int, *, rtt: float) -> None:
        self.target = (host, port)
        self.rtt = rtt
        self.connections = 0
        """Connections accepted so far (each one cost a handshake)."""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.AbstractServer | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> DelayProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._accept, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        opened = self._loop.time()
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        # the handshake: nothing reaches the server before one round trip has passed
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer, not_before=opened + self.rtt),
                self._pipe(up_reader, writer, not_before=0.0),
                return_exceptions=True,
            )
        except asyncio.CancelledError:  # the proxy is shutting down: end quietly (asyncio would log a traceback)
            _close(writer)
            _close(up_writer)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, not_before: float) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, chunk = await queue.get()
                wait = due - self._loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not chunk:
                    writer.close()
                    return
                writer.write(chunk)
                await writer.drain()

        task = self._loop.create_task(deliver())
        try:
            while True:
                chunk = await reader.read(65536)
                due = max(self._loop.time() + self.rtt / 2, not_before + self.rtt / 2)
                await queue.put((due, chunk))
                if not chunk:
                    break
            await task
        except (ConnectionError, OSError):
            task.cancel()
        finally:
            _close(writer)


def _close(writer: Any) -> None:
    try:
        writer.close()
    except Exception:
        pass
