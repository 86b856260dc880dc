"""The shared HTTP client: plain http works without TLS set-up; https still verifies certificates."""

from __future__ import annotations

import http.server
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cockpit.http_client import TLSOnFirstUse, new_client


@pytest.fixture(scope="module")
def https_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real HTTPS server on 127.0.0.1 with a self-signed certificate (which no client should trust)."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make the test certificate")
    tmp: Path = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-keyout", str(tmp / "key.pem"), "-out", str(tmp / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


async def test_plain_http_works(sim_url: str) -> None:
    async with new_client() as client:
        reply = await client.get(f"{sim_url}/health")
    assert reply.status_code == 200 and reply.json()["status"] in ("healthy", "degraded")


async def test_https_still_verifies_certificates(https_url: str) -> None:
    async with new_client() as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(https_url)  # a self-signed certificate is refused: verification is on


async def test_the_tls_transport_is_made_on_first_use(https_url: str) -> None:
    tls = TLSOnFirstUse()
    async with httpx.AsyncClient(transport=tls) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(https_url)
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(https_url)  # the same transport, still verifying


async def test_https_to_a_plain_server_fails_in_tls(sim_url: str) -> None:
    async with new_client() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(sim_url.replace("http://", "https://") + "/health")
