"""Connections opened early (``cockpit kill`` opens them while the plan loads) are the ones requests use.

A real local HTTP server counts the connections it accepts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from cockpit.http_client import Preconnect, new_client
from cockpit.plan.origins import provider_origins
from tests.servers import free_port


class Counting(ThreadingHTTPServer):
    connections = 0

    def process_request(self, request: object, client_address: object) -> None:
        self.connections += 1
        super().process_request(request, client_address)  # type: ignore[arg-type]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Counting]:
    srv = Counting(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


async def test_requests_take_the_connection_opened_early(server: Counting) -> None:
    port = server.server_address[1]
    preconnect = Preconnect()
    preconnect.open("127.0.0.1", port)
    async with new_client(preconnect=preconnect) as client:
        for _ in range(3):
            assert (await client.get(f"http://127.0.0.1:{port}/x")).text == "ok"
    await preconnect.aclose()
    assert preconnect.taken == 1 and server.connections == 1


async def test_an_early_connection_that_failed_is_tried_afresh_and_errors_map() -> None:
    port = free_port()  # nothing listens
    preconnect = Preconnect()
    preconnect.open("127.0.0.1", port)
    async with new_client(preconnect=preconnect) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/x")
    await preconnect.aclose()


def test_origins_from_the_plan_text() -> None:
    text = """
[providers.u]
kind = "unleash"
url = "${UNLEASH_URL}"
token = "${T}"
[providers.h]
kind = "http"
read_url = "http://flags.internal:8080/f/{flag}"
off = { method = "POST", url = "http://flags.internal:8080/f/{flag}/off" }
[providers.s]
kind = "http"
read_url = "https://vendor.example/f"
off = { url = "https://vendor.example/f/off" }
[[flags]]
name = "A"
provider = "u"
[[flags]]
name = "B"
provider = "u"
[[flags]]
name = "C"
provider = "h"
[[flags]]
name = "D"
provider = "h"
[[flags]]
name = "E"
provider = "s"
"""
    wanted = provider_origins(text, {"UNLEASH_URL": "http://127.0.0.1:4242/"})
    assert wanted == {("127.0.0.1", 4242): 1, ("flags.internal", 8080): 2}
    assert provider_origins(text, {}) == {("flags.internal", 8080): 2}  # unset: not opened early
    assert provider_origins("[broken", {}) == {}
