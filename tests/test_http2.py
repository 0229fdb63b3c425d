"""HTTP/2 against hypercorn: version selection (ALPN, prior knowledge), multiplexing, flow
control with large bodies both ways, trailers, full duplex, header rules, timeouts,
cancellation. Fault cases (RST_STREAM, GOAWAY, limits) are in test_http2_faults.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from servers import HypercornServer, LoopThread, payload, serving

from pyqwest import (
    Client,
    HTTPTransport,
    HTTPVersion,
    ReadError,
    RemoteProtocolError,
    StreamError,
)

MiB = 1 << 20


@pytest.fixture(scope="module")
def h1_only_tls_server(
    server_loop: LoopThread, server_cert_files: dict[str, str]
) -> Iterator[HypercornServer]:
    """TLS server whose ALPN offers only http/1.1."""
    with serving(
        server_loop,
        __import__("servers").kitchensink_app,
        server_cert_files,
        alpn_protocols=["http/1.1"],
    ) as server:
        yield server


@pytest.fixture
def h2c(make_transport: Any) -> Client:
    """A client speaking HTTP/2 with prior knowledge (h2c on plain TCP)."""
    return Client(make_transport(http_version=HTTPVersion.HTTP2))


# --- version selection ----------------------------------------------------------------------


async def test_auto_over_tls_negotiates_h2(client: Client, https_server: HypercornServer) -> None:
    async with client.stream("GET", https_server.url + "/echo") as resp:
        assert resp.http_version == HTTPVersion.HTTP2
        assert resp.status == 200
        # hypercorn turns :authority into the host header
        assert resp.headers["x-echo-host"] == https_server.netloc
        assert resp.headers["x-echo-method"] == "GET"
    full = await client.get(https_server.url + "/echo", params={"a": "b c"})
    assert full.status == 200
    assert full.headers["x-echo-query-string"] == "a=b+c"


async def test_auto_over_plain_tcp_is_http1(client: Client, http_server: HypercornServer) -> None:
    async with client.stream("GET", http_server.url + "/echo") as resp:
        assert resp.http_version == HTTPVersion.HTTP1


async def test_forced_http1_over_tls(make_transport: Any, https_server: HypercornServer) -> None:
    client = Client(make_transport(http_version=HTTPVersion.HTTP1))
    async with client.stream("GET", https_server.url + "/echo") as resp:
        assert resp.http_version == HTTPVersion.HTTP1
        assert resp.status == 200


async def test_forced_http2_over_tls(make_transport: Any, https_server: HypercornServer) -> None:
    client = Client(make_transport(http_version=HTTPVersion.HTTP2))
    async with client.stream("GET", https_server.url + "/echo") as resp:
        assert resp.http_version == HTTPVersion.HTTP2
    assert (await client.get(https_server.url + "/status/201")).status == 201


async def test_forced_http2_is_prior_knowledge_on_plain_tcp(
    h2c: Client, http_server: HypercornServer
) -> None:
    async with h2c.stream("GET", http_server.url + "/echo") as resp:
        assert resp.http_version == HTTPVersion.HTTP2
        assert resp.headers["x-echo-host"] == http_server.netloc
    full = await h2c.post(http_server.url + "/echo", content=b"hello")
    assert full.content == b"hello"


async def test_auto_over_tls_falls_back_when_server_picks_http1(
    client: Client, h1_only_tls_server: HypercornServer
) -> None:
    ports = set()
    for _ in range(3):
        async with client.stream("GET", h1_only_tls_server.url + "/echo") as resp:
            assert resp.http_version == HTTPVersion.HTTP1
            ports.add(resp.headers["x-conn-port"])
            assert [c async for c in resp.content] == []
    # the probing connection went on serving HTTP/1.1 requests
    assert len(ports) == 1
    assert (await client.get(h1_only_tls_server.url + "/status/204")).status == 204


async def test_concurrent_first_requests_to_h1_origin(
    client: Client, h1_only_tls_server: HypercornServer
) -> None:
    url = h1_only_tls_server.url + "/conn?delay=0.05"
    results = await asyncio.gather(*[client.get(url) for _ in range(8)])
    assert all(r.status == 200 for r in results)


# --- multiplexing -----------------------------------------------------------------------------


async def test_concurrent_first_requests_share_one_connection(
    client: Client, https_server: HypercornServer
) -> None:
    results = await asyncio.gather(
        *[client.get(https_server.url + "/conn?delay=0.05") for _ in range(20)]
    )
    assert len({r.headers["x-conn-port"] for r in results}) == 1


async def test_64_concurrent_streams_on_one_connection(
    h2c: Client, http_server: HypercornServer
) -> None:
    url = http_server.url + "/conn?delay=0.3"
    start = time.monotonic()
    results = await asyncio.gather(*[h2c.get(url) for _ in range(64)])
    elapsed = time.monotonic() - start
    assert all(r.status == 200 for r in results)
    assert len({r.headers["x-conn-port"] for r in results}) == 1
    # they ran at the same time on that connection, not one after the other
    assert elapsed < 64 * 0.3 / 4


async def test_64_concurrent_1mib_downloads(client: Client, https_server: HypercornServer) -> None:
    expected = payload(MiB)
    results = await asyncio.gather(
        *[client.get(https_server.url + f"/bytes/{MiB}") for _ in range(64)]
    )
    assert all(r.content == expected for r in results)
    assert len({r.headers["x-conn-port"] for r in results}) == 1


async def test_64_concurrent_1mib_streamed_downloads(
    h2c: Client, http_server: HypercornServer
) -> None:
    expected = payload(MiB)

    async def one() -> tuple[bytes, str]:
        async with h2c.stream("GET", http_server.url + f"/bytes/{MiB}") as resp:
            body = b"".join([bytes(c) async for c in resp.content])
            return body, resp.headers["x-conn-port"]

    results = await asyncio.gather(*[one() for _ in range(64)])
    assert all(body == expected for body, _ in results)
    assert len({port for _, port in results}) == 1


async def test_64_concurrent_1mib_uploads(client: Client, https_server: HypercornServer) -> None:
    bodies = [payload(MiB, offset=i) for i in range(64)]
    results = await asyncio.gather(
        *[client.post(https_server.url + "/echo", content=b) for b in bodies]
    )
    assert [r.content for r in results] == bodies
    assert len({r.headers["x-conn-port"] for r in results}) == 1


async def test_streamed_uploads(h2c: Client, http_server: HypercornServer) -> None:
    data = payload(4 * MiB)

    async def gen() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 100_000):
            yield data[i : i + 100_000]

    results = await asyncio.gather(
        *[h2c.post(http_server.url + "/echo", content=gen()) for _ in range(4)]
    )
    assert all(r.content == data for r in results)


async def test_slow_consumer_stalls_only_its_stream(
    h2c: Client, http_server: HypercornServer
) -> None:
    big = 24 * MiB
    async with h2c.stream("GET", http_server.url + f"/bytes/{big}") as slow:
        port = slow.headers["x-conn-port"]
        # the unread stream's data piles up to its window; the others keep flowing
        for _ in range(3):
            results = await asyncio.wait_for(
                asyncio.gather(*[h2c.get(http_server.url + f"/bytes/{MiB}") for _ in range(8)]),
                20,
            )
            assert all(len(r.content) == MiB for r in results)
            assert {r.headers["x-conn-port"] for r in results} == {port}
        body = b"".join([bytes(c) async for c in slow.content])
    assert body == payload(big)


# --- trailers, duplex, bodies -------------------------------------------------------------------


async def test_trailers_buffered(client: Client, https_server: HypercornServer) -> None:
    resp = await client.post(https_server.url + "/echo", {"te": "trailers"}, b"body")
    assert resp.content == b"body"
    assert resp.trailers == {"x-echo-trailer": "last info"}
    plain = await client.post(https_server.url + "/echo", content=b"body")
    assert plain.trailers == {}


async def test_trailers_streamed(h2c: Client, http_server: HypercornServer) -> None:
    async with h2c.stream("GET", http_server.url + "/echo", {"te": "trailers"}) as resp:
        assert resp.trailers == {}
        assert [c async for c in resp.content] == []
        assert resp.trailers["x-echo-trailer"] == "last info"


async def test_full_duplex_echo(client: Client, https_server: HypercornServer) -> None:
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def body() -> AsyncIterator[bytes]:
        while (item := await queue.get()) is not None:
            yield item

    async with client.stream(
        "POST", https_server.url + "/echo", {"te": "trailers"}, body()
    ) as resp:
        assert resp.http_version == HTTPVersion.HTTP2
        it = resp.content.__aiter__()
        for i in range(5):
            chunk = f"chunk {i}".encode()
            await queue.put(chunk)
            assert bytes(await asyncio.wait_for(it.__anext__(), 5)) == chunk
        await queue.put(None)
        with pytest.raises(StopAsyncIteration):
            await it.__anext__()
        assert resp.trailers["x-echo-trailer"] == "last info"


async def test_hundred_chunk_body(h2c: Client, http_server: HypercornServer) -> None:
    async def gen() -> AsyncIterator[bytes]:
        for i in range(100):
            yield f"{i},".encode()

    resp = await h2c.post(http_server.url + "/echo", content=gen())
    assert resp.content == b"".join(f"{i},".encode() for i in range(100))


async def test_head_and_no_body_statuses(h2c: Client, http_server: HypercornServer) -> None:
    head = await h2c.head(http_server.url + f"/bytes/{MiB}")
    assert head.status == 200
    assert head.content == b""
    for code in (204, 304):
        resp = await h2c.get(http_server.url + f"/status/{code}")
        assert resp.status == code
        assert resp.content == b""


async def test_statuses_verbatim(h2c: Client, http_server: HypercornServer) -> None:
    for code in (200, 201, 404, 500, 503, 598):
        resp = await h2c.get(http_server.url + "/echo", {"x-response-status": str(code)})
        assert resp.status == code


async def test_json_and_empty_bodies(client: Client, https_server: HypercornServer) -> None:
    resp = await client.post(https_server.url + "/echo", content={"message": "Hello, World!"})
    assert resp.content == b'{"message": "Hello, World!"}'
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["x-echo-content-length"] == str(len(resp.content))
    empty = await client.post(https_server.url + "/echo")
    assert empty.headers["x-echo-content-length"] == "0"
    get = await client.get(https_server.url + "/echo")
    assert "x-echo-content-length" not in get.headers


# --- request headers ----------------------------------------------------------------------------


async def test_request_headers_follow_http2_rules(
    h2c: Client, http_server: HypercornServer
) -> None:
    resp = await h2c.get(
        http_server.url + "/echo",
        [
            ("Connection", "keep-alive"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("upgrade", "websocket"),
            ("X-Dup", "1"),
            ("x-dup", "2"),
            ("te", "gzip"),
        ],
    )
    assert resp.status == 200
    echoed = {k for k in resp.headers if k.startswith("x-echo-")}
    for name in ("connection", "keep-alive", "proxy-connection", "upgrade", "te"):
        assert f"x-echo-{name}" not in echoed
    assert resp.headers.getall("x-echo-x-dup") == ["1", "2"]
    assert resp.headers["x-echo-accept"] == "*/*"
    kept = await h2c.get(http_server.url + "/echo", {"te": "trailers"})
    assert kept.headers["x-echo-te"] == "trailers"


async def test_host_header_becomes_authority(h2c: Client, http_server: HypercornServer) -> None:
    resp = await h2c.get(http_server.url + "/echo", {"host": "example.com"})
    assert resp.headers.getall("x-echo-host") == ["example.com"]


async def test_unicode_path_and_query(h2c: Client, http_server: HypercornServer) -> None:
    resp = await h2c.get(http_server.url + "/echo/日本?q=値")
    assert resp.headers["x-echo-raw-path"] == "/echo/%E6%97%A5%E6%9C%AC"
    assert resp.headers["x-echo-query-string"] == "q=%E5%80%A4"


# --- errors, timeouts, cancellation -------------------------------------------------------------


async def test_total_timeout(make_transport: Any, http_server: HypercornServer) -> None:
    client = Client(make_transport(http_version=HTTPVersion.HTTP2, timeout=0.3))
    before = await client.get(http_server.url + "/conn")
    with pytest.raises(TimeoutError):
        await client.get(http_server.url + "/stall?where=headers")
    # the connection is still the one in use
    after = await client.get(http_server.url + "/conn")
    assert after.content == before.content


async def test_read_timeout_on_body(make_transport: Any, http_server: HypercornServer) -> None:
    client = Client(make_transport(http_version=HTTPVersion.HTTP2, read_timeout=0.3))
    async with client.stream("GET", http_server.url + "/stall?where=body") as resp:
        assert resp.status == 200
        with pytest.raises(TimeoutError):
            await resp.content.__anext__()
    # a consumer that reads slowly is not timed out
    async with client.stream("GET", http_server.url + "/slow-body?chunks=3&delay=0.05") as resp:
        await asyncio.sleep(0.5)
        assert b"".join([bytes(c) async for c in resp.content]) == b"chunk0\nchunk1\nchunk2\n"


async def test_cancel_keeps_connection(h2c: Client, http_server: HypercornServer) -> None:
    port = (await h2c.get(http_server.url + "/conn")).content
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(h2c.get(http_server.url + "/stall?where=headers"), 0.2)
    task = asyncio.ensure_future(h2c.get(http_server.url + "/stall?where=headers"))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    results = await asyncio.gather(*[h2c.get(http_server.url + "/conn") for _ in range(4)])
    assert {r.content for r in results} == {port}


async def test_close_unread_response_keeps_connection(
    h2c: Client, http_server: HypercornServer
) -> None:
    async with h2c.stream("GET", http_server.url + f"/bytes/{16 * MiB}") as resp:
        port = resp.headers["x-conn-port"]
        await resp.content.__anext__()
    async with h2c.stream("GET", http_server.url + "/echo") as resp:
        pass  # closed without reading
    again = await h2c.get(http_server.url + "/conn")
    assert again.content.decode() == port


async def test_close_during_pending_read(h2c: Client, http_server: HypercornServer) -> None:
    async with h2c.stream("GET", http_server.url + "/stall?where=body") as resp:
        read = asyncio.ensure_future(resp.content.__anext__())
        await asyncio.sleep(0.05)
        assert resp._read_pending
        await resp.aclose()
        with pytest.raises(ReadError):
            await read
        assert not resp._read_pending


async def test_exiting_stream_unread_closes_request_body(
    h2c: Client, http_server: HypercornServer
) -> None:
    closed = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b"first"
            await asyncio.sleep(30)
            yield b"never"
        finally:
            closed.set()

    async with h2c.stream("POST", http_server.url + "/echo", content=body()) as resp:
        assert resp.status == 200
    await asyncio.wait_for(closed.wait(), 5)


async def test_stream_error_type_exported() -> None:
    assert issubclass(StreamError, RemoteProtocolError)


def test_transport_across_event_loops(
    ca_pem: bytes, https_server: HypercornServer, http_server: HypercornServer
) -> None:
    """Per-loop pools: a transport used from two asyncio.run() calls opens new connections."""
    uvloop = pytest.importorskip("uvloop")

    transport = HTTPTransport(tls_ca_cert=ca_pem)
    h2c_transport = HTTPTransport(http_version=HTTPVersion.HTTP2)

    async def run() -> None:
        for t, url in ((transport, https_server.url), (h2c_transport, http_server.url)):
            async with Client(t).stream("GET", url + "/echo") as resp:
                assert resp.http_version == HTTPVersion.HTTP2
            assert (await Client(t).get(url + "/echo")).status == 200

    asyncio.run(run())
    uvloop.run(run())
    asyncio.run(run())

    async def close() -> None:
        await transport.aclose()
        await h2c_transport.aclose()

    asyncio.run(close())


# --- the transport's response handling applies to HTTP/2 responses too --------------------------


async def test_decoding_over_h2(h2c: Client, semantics_server: HypercornServer) -> None:
    url = semantics_server.url + "/encoded?codings=gzip,br&size=100000&pieces=5"
    assert (await h2c.get(url)).content == payload(100000)
    async with h2c.stream("GET", url) as resp:
        assert resp.http_version == HTTPVersion.HTTP2
        assert b"".join([bytes(c) async for c in resp.content]) == payload(100000)


async def test_redirects_over_h2(h2c: Client, semantics_server: HypercornServer) -> None:
    resp = await h2c.post(
        semantics_server.url + "/redirect?to=/request&status=307", content=b"payload"
    )
    info = resp.json()
    assert (info["method"], info["path"], info["body"]) == ("POST", "/request", "payload")
    async with h2c.stream("GET", semantics_server.url + "/redirect?to=/request") as streamed:
        assert streamed.http_version == HTTPVersion.HTTP2
        assert streamed.status == 200


async def test_cookies_over_h2(make_transport: Any, semantics_server: HypercornServer) -> None:
    client = Client(make_transport(http_version=HTTPVersion.HTTP2, enable_cookie_store=True))
    await client.get(semantics_server.url + "/set-cookie?c=flavour=oat")
    info = (await client.get(semantics_server.url + "/request")).json()
    assert ["cookie", "flavour=oat"] in info["headers"]
