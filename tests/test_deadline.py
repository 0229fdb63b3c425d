"""The transport's `timeout` is one total deadline (spec §1.10): counted from the start of the
request through DNS, connect, TLS, a stale retry, every redirect hop and the body, the same
on HTTP/1.1 and HTTP/2, async and sync."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from servers import HypercornServer, LoopThread, serving

from pyqwest import Client, HTTPVersion, SyncClient

TIMEOUT = 1.0
HOP_DELAY = 0.6 * TIMEOUT  # each hop alone fits in the timeout; two do not


async def _slow_redirects(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """`/hops/N`: after `HOP_DELAY`, a 302 to `/hops/N-1`; `/hops/0` answers 200 at once."""
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            await send({"type": msg["type"] + ".complete"})
            if msg["type"] == "lifespan.shutdown":
                return
    left = int(scope["path"].rsplit("/", 1)[1])
    if left:
        await asyncio.sleep(HOP_DELAY)
        start = {"status": 302, "headers": [(b"location", f"/hops/{left - 1}".encode()),
                                            (b"content-length", b"0")]}
        body = b""
    else:
        start = {"status": 200, "headers": [(b"content-length", b"4")]}
        body = b"done"
    await send({"type": "http.response.start", **start})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def hops_server(server_loop: LoopThread) -> Iterator[HypercornServer]:
    with serving(server_loop, _slow_redirects) as server:
        yield server


VERSIONS = [pytest.param(None, id="h1"), pytest.param(HTTPVersion.HTTP2, id="h2c")]


@pytest.mark.parametrize("version", VERSIONS)
async def test_redirect_hops_share_one_timeout(make_transport, hops_server, version):
    client = Client(make_transport(timeout=TIMEOUT, http_version=version))
    assert (await client.get(hops_server.url + "/hops/1")).content == b"done"  # one hop fits
    with pytest.raises(TimeoutError):
        await client.get(hops_server.url + "/hops/2")


@pytest.mark.parametrize("version", VERSIONS)
async def test_streamed_redirect_hops_share_one_timeout(make_transport, hops_server, version):
    client = Client(make_transport(timeout=TIMEOUT, http_version=version))
    with pytest.raises(TimeoutError):
        async with client.stream("GET", hops_server.url + "/hops/2") as response:
            await response.aclose()


@pytest.mark.parametrize("version", VERSIONS)
def test_sync_redirect_hops_share_one_timeout(make_sync_transport, hops_server, version):
    client = SyncClient(make_sync_transport(timeout=TIMEOUT, http_version=version))
    assert client.get(hops_server.url + "/hops/1").content == b"done"
    with pytest.raises(TimeoutError):
        client.get(hops_server.url + "/hops/2")


class LateTLSServer:
    """A TLS listener that accepts (so completes the TLS handshake) only after `accept_delay`,
    then answers each request after `answer_delay`: the TCP connect is quick (the kernel's
    backlog), the TLS handshake is slow."""

    def __init__(self, ctx: ssl.SSLContext, accept_delay: float, answer_delay: float) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=16)
        self.port = self.sock.getsockname()[1]
        self.ctx = ctx
        self.accept_delay = accept_delay
        self.answer_delay = answer_delay
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.05)
        accepted: list[socket.socket] = []
        while not self._stop.is_set():
            try:
                raw, _ = self.sock.accept()
            except TimeoutError:
                continue
            accepted.append(raw)
            if self._stop.wait(self.accept_delay):
                break
            try:
                raw.settimeout(5)
                conn = self.ctx.wrap_socket(raw, server_side=True)
                accepted.append(conn)
                conn.recv(65536)
                if self._stop.wait(self.answer_delay):
                    break
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            except OSError:
                pass
        for conn in accepted:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def late_tls(server_ssl_context: Any) -> Iterator[LateTLSServer]:
    # each wait alone fits in a 0.5 s timeout, together they do not
    server = LateTLSServer(server_ssl_context(), 0.3, 0.3)
    yield server
    server.close()


@pytest.mark.parametrize(
    "version", [pytest.param(None, id="alpn"), pytest.param(HTTPVersion.HTTP1, id="h1")]
)
async def test_slow_tls_handshake_counts_toward_timeout(make_transport, late_tls, version):
    client = Client(make_transport(timeout=0.5, http_version=version))
    with pytest.raises(TimeoutError):
        await client.get(f"https://127.0.0.1:{late_tls.port}/")


def test_sync_slow_tls_handshake_counts_toward_timeout(make_sync_transport, late_tls):
    client = SyncClient(make_sync_transport(timeout=0.5))
    with pytest.raises(TimeoutError):
        client.get(f"https://127.0.0.1:{late_tls.port}/")


async def test_slow_tls_handshake_within_timeout_succeeds(make_transport, late_tls):
    client = Client(make_transport(timeout=5.0))
    assert (await client.get(f"https://127.0.0.1:{late_tls.port}/")).content == b"ok"
