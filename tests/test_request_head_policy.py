"""One request-head policy for HTTP/1.1 and HTTP/2 (cpqwest/_reqhead.pyx): the same request
carries the same defaults and framing on both, as real servers receive it (a scripted HTTP/1.1
server reading the head, a raw h2 server reading the header block). The sync API sends the
same heads as the async one: it runs on the same policy."""

from __future__ import annotations

from typing import Any

import pytest
from servers.scripted import Conn

from pyqwest import Client, Headers, HTTPVersion, SyncClient

# the accept-encoding a default transport offers (gzip, brotli and zstd on)
AE = "zstd,gzip,br"


class Heads:
    """Sends one request over HTTP/1.1 and over HTTP/2 (h2c); gives the fields each server
    received, with the host / :authority it saw."""

    def __init__(self, make_transport: Any, scripted: Any, h2_server_factory: Any) -> None:
        self.scripted = scripted
        self.h2 = h2_server_factory()
        self.h1_client = Client(make_transport(http_version=HTTPVersion.HTTP1))
        self.h2_client = Client(make_transport(http_version=HTTPVersion.HTTP2))
        self.h1_requests: list[Any] = []

        async def handler(conn: Conn) -> None:
            while (req := await conn.read_request()) is not None:
                self.h1_requests.append(req)
                await conn.send_response(200, b"ok")

        scripted.handler = handler

    async def send(
        self, method: str, headers: Any = None, content: Any = None
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """(HTTP/1.1 fields, HTTP/2 fields): lower-case (name, value) in order; HTTP/2's
        pseudo-header fields are left out but for :authority, given as host."""
        for client, base in ((self.h1_client, self.scripted.url), (self.h2_client, self.h2.url)):
            resp = await client.execute(method, base + "/p", headers, content)
            assert resp.status == 200
        h1 = [(k.lower(), v) for k, v in self.h1_requests[-1].headers]
        raw = self.h2.requests[-1].headers
        h2 = [("host" if k == ":authority" else k, v) for k, v in raw
              if not k.startswith(":") or k == ":authority"]
        return h1, h2


@pytest.fixture
def heads(make_transport: Any, scripted: Any, h2_server_factory: Any) -> Heads:
    return Heads(make_transport, scripted, h2_server_factory)


def field(fields: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in fields if k == name]


def without_host(fields: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in fields if k != "host"]


async def test_get_carries_the_same_defaults(heads: Heads) -> None:
    h1, h2 = await heads.send("GET")
    assert without_host(h1) == without_host(h2) == [("accept", "*/*"), ("accept-encoding", AE)]


async def test_host_is_the_url_authority_and_a_caller_host_replaces_it(heads: Heads) -> None:
    h1, h2 = await heads.send("GET")
    assert field(h1, "host") == [f"127.0.0.1:{heads.scripted.port}"]
    assert field(h2, "host") == [f"127.0.0.1:{heads.h2.port}"]
    h1, h2 = await heads.send("GET", {"Host": "example.test"})
    assert field(h1, "host") == field(h2, "host") == ["example.test"]


async def test_caller_accept_fields_replace_the_defaults(heads: Heads) -> None:
    h1, h2 = await heads.send("GET", {"Accept": "text/html", "Accept-Encoding": "identity"})
    assert without_host(h1) == without_host(h2) == [
        ("accept", "text/html"), ("accept-encoding", "identity")
    ]


async def test_range_gets_no_automatic_accept_encoding(heads: Heads) -> None:
    h1, h2 = await heads.send("GET", {"Range": "bytes=0-1"})
    assert field(h1, "accept-encoding") == field(h2, "accept-encoding") == []


async def test_json_body_gets_its_content_type_and_length(heads: Heads) -> None:
    h1, h2 = await heads.send("POST", None, {"a": 1})
    assert without_host(h1) == without_host(h2) == [
        ("accept", "*/*"), ("accept-encoding", AE), ("content-type", "application/json"),
        ("content-length", "8"),
    ]


async def test_caller_content_type_wins_over_json(heads: Heads) -> None:
    h1, h2 = await heads.send("POST", {"Content-Type": "application/vnd.x+json"}, {"a": 1})
    assert field(h1, "content-type") == field(h2, "content-type") == ["application/vnd.x+json"]


@pytest.mark.parametrize(
    ("method", "length"),
    [("POST", ["0"]), ("PUT", ["0"]), ("PATCH", ["0"]), ("GET", []), ("DELETE", []),
     ("OPTIONS", [])],
)
async def test_empty_body_declares_length_zero_only_for_body_methods(
    heads: Heads, method: str, length: list[str]
) -> None:
    """As hyper does: POST, PUT and PATCH say ``content-length: 0``; the others say nothing."""
    h1, h2 = await heads.send(method)
    assert field(h1, "content-length") == field(h2, "content-length") == length


async def test_bytes_body_declares_its_length_once(heads: Heads) -> None:
    h1, h2 = await heads.send("PUT", {"Content-Length": "5"}, b"hello")
    assert field(h1, "content-length") == field(h2, "content-length") == ["5"]


async def test_caller_fields_keep_their_order_and_values(heads: Heads) -> None:
    fields = [("x-b", "2"), ("x-a", "1"), ("x-b", "3"), ("user-agent", "ua/1")]
    h1, h2 = await heads.send("GET", Headers(fields))
    assert without_host(h1)[:3] == without_host(h2)[:3] == [
        ("x-b", "2"), ("x-b", "3"), ("x-a", "1")
    ]


async def test_connection_specific_fields_go_only_over_http1(heads: Heads) -> None:
    """HTTP/2 forbids them (RFC 9113 §8.2.2); TE survives only as ``trailers``."""
    sent = {"Connection": "keep-alive", "Keep-Alive": "timeout=5", "Upgrade": "websocket",
            "Proxy-Connection": "keep-alive", "TE": "gzip"}
    h1, h2 = await heads.send("GET", sent)
    assert [k for k, _ in h1 if k in {n.lower() for n in sent}] == [n.lower() for n in sent]
    assert [k for k, _ in h2 if k in {n.lower() for n in sent}] == []
    h1, h2 = await heads.send("GET", {"TE": "trailers"})
    assert field(h1, "te") == field(h2, "te") == ["trailers"]


async def test_connection_close_closes_only_the_http1_connection(heads: Heads) -> None:
    h1, h2 = await heads.send("GET", {"Connection": "close"})
    assert field(h1, "connection") == ["close"]
    assert field(h2, "connection") == []
    await heads.send("GET")
    assert heads.scripted.accepted == 2
    assert len(heads.h2.connections) == 1


@pytest.mark.parametrize(
    ("method", "headers", "content"),
    [("GET", None, None), ("POST", {"x-a": "1", "Range": "bytes=1-"}, b"hello"),
     ("PATCH", {"Transfer-Encoding": "chunked"}, b"abc"), ("PUT", None, None)],
)
async def test_sync_api_sends_the_same_heads(
    heads: Heads, make_sync_transport: Any, method: str, headers: Any, content: Any
) -> None:
    """The sync transport runs on the same policy: byte for byte the same HTTP/1.1 head, field
    for field the same HTTP/2 list, as the async transport sends."""
    import asyncio

    await heads.send(method, headers, content)

    def sync_send() -> None:
        for version, base in ((HTTPVersion.HTTP1, heads.scripted.url),
                              (HTTPVersion.HTTP2, heads.h2.url)):
            client = SyncClient(make_sync_transport(http_version=version))
            assert client.execute(method, base + "/p", headers, content).status == 200

    await asyncio.to_thread(sync_send)
    assert heads.h1_requests[-1].raw_head == heads.h1_requests[-2].raw_head
    sync_h2 = [(k, v) for k, v in heads.h2.requests[-1].headers if k != ":authority"]
    async_h2 = [(k, v) for k, v in heads.h2.requests[-2].headers if k != ":authority"]
    assert sync_h2 == async_h2
