"""HTTP/2 fault cases against a raw h2 server (tests/servers/h2raw.py): RST_STREAM codes,
NO_ERROR resets, REFUSED_STREAM, GOAWAY (graceful and not), SETTINGS_MAX_CONCURRENT_STREAMS,
connection errors, cancellation sending RST_STREAM(CANCEL), request body failures."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import h2.settings
import hyperframe.frame
import pytest
from fds import open_sockets
from servers.h2raw import H2RawServer, H2Request, H2ServerConn
from servers.scripted import PEER_GONE

import pyqwest._h2.pool
from pyqwest import (
    Client,
    HTTPVersion,
    ReadError,
    RemoteProtocolError,
    StreamError,
    StreamErrorCode,
    WriteError,
)

ServerFactory = Callable[..., H2RawServer]


@pytest.fixture
def client(make_transport: Any) -> Client:
    return Client(make_transport(http_version=HTTPVersion.HTTP2))


# --- RST_STREAM ---------------------------------------------------------------------------------

CODES = [
    StreamErrorCode.PROTOCOL_ERROR,
    StreamErrorCode.INTERNAL_ERROR,
    StreamErrorCode.FLOW_CONTROL_ERROR,
    StreamErrorCode.CANCEL,
    StreamErrorCode.ENHANCE_YOUR_CALM,
    StreamErrorCode.HTTP_1_1_REQUIRED,
]


@pytest.mark.parametrize("code", CODES, ids=lambda c: c.name)
async def test_reset_before_head(
    client: Client, h2_server_factory: ServerFactory, code: Any
) -> None:
    async def handler(req: H2Request) -> None:
        await req.reset(code)

    server = h2_server_factory(handler)
    with pytest.raises(StreamError) as info:
        await client.get(server.url_for("/"))
    assert info.value.code is code
    assert str(info.value).startswith("Request failed: stream error received: ")
    with pytest.raises(StreamError) as info:
        async with client.stream("GET", server.url_for("/")):
            pass
    assert info.value.code is code
    # stream errors leave the connection to the others
    assert len(server.connections) == 1


async def test_unknown_reset_code_is_internal_error(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    async def handler(req: H2Request) -> None:
        await req.reset(0x99)

    server = h2_server_factory(handler)
    with pytest.raises(StreamError) as info:
        await client.get(server.url_for("/"))
    assert info.value.code is StreamErrorCode.INTERNAL_ERROR


async def _head_then_reset(req: H2Request, code: int) -> None:
    await req.send_headers(200, [("content-length", "100")])
    await req.send_data(b"x" * 10)
    await asyncio.sleep(0.05)
    await req.reset(code)


async def test_reset_during_body_streamed(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    server = h2_server_factory(lambda req: _head_then_reset(req, StreamErrorCode.INTERNAL_ERROR))
    async with client.stream("GET", server.url_for("/")) as resp:
        assert resp.status == 200
        assert bytes(await resp.content.__anext__()) == b"x" * 10
        with pytest.raises(StreamError) as info:
            await resp.content.__anext__()
    assert info.value.code is StreamErrorCode.INTERNAL_ERROR
    assert str(info.value).startswith("Error reading content: ")


async def test_reset_during_body_buffered(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    server = h2_server_factory(lambda req: _head_then_reset(req, StreamErrorCode.INTERNAL_ERROR))
    with pytest.raises(StreamError) as info:
        await client.get(server.url_for("/"))
    assert info.value.code is StreamErrorCode.INTERNAL_ERROR
    assert str(info.value).startswith("Error reading full content: ")


async def test_no_error_reset_during_body_ends_it(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    async def handler(req: H2Request) -> None:
        await req.send_headers(200)
        await req.send_data(b"partial")
        await asyncio.sleep(0.05)
        await req.reset(StreamErrorCode.NO_ERROR)

    server = h2_server_factory(handler)
    assert (await client.get(server.url_for("/"))).content == b"partial"
    async with client.stream("GET", server.url_for("/")) as resp:
        assert b"".join([bytes(c) async for c in resp.content]) == b"partial"


async def test_no_error_reset_stops_upload_after_response(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    """RFC 9113 §8.1: a complete response then RST_STREAM(NO_ERROR) stops the request body."""
    closed = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"y" * 1000
                await asyncio.sleep(0.01)
        finally:
            closed.set()

    async def handler(req: H2Request) -> None:
        await req.respond(200, b"done")
        await req.reset(StreamErrorCode.NO_ERROR)

    server = h2_server_factory(handler)
    resp = await client.post(server.url_for("/"), content=body())
    assert resp.content == b"done"
    await asyncio.wait_for(closed.wait(), 5)


async def test_no_error_reset_before_head_is_error(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    async def handler(req: H2Request) -> None:
        await req.reset(StreamErrorCode.NO_ERROR)

    server = h2_server_factory(handler)
    with pytest.raises(StreamError) as info:
        await client.get(server.url_for("/"))
    assert info.value.code is StreamErrorCode.NO_ERROR


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH"])
async def test_refused_stream_retried_once_on_a_new_connection(
    client: Client, h2_server_factory: ServerFactory, method: str
) -> None:
    async def handler(req: H2Request) -> None:
        if len(req.conn.server.requests) == 1:
            await req.reset(StreamErrorCode.REFUSED_STREAM)
        else:
            await req.respond(200, await req.read_body() or b"second")

    server = h2_server_factory(handler)
    content = b"" if method == "GET" else b"payload"
    resp = await client.execute(method, server.url_for("/"), content=content)
    assert resp.content == (content or b"second")
    assert [r.conn.index for r in server.requests] == [0, 1]


async def test_refused_stream_not_retried_for_post_stream(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    async def handler(req: H2Request) -> None:
        await req.reset(StreamErrorCode.REFUSED_STREAM)

    async def body() -> AsyncIterator[bytes]:
        yield b"data"

    server = h2_server_factory(handler)
    with pytest.raises(StreamError) as info:
        await client.post(server.url_for("/"), content=body())
    assert info.value.code is StreamErrorCode.REFUSED_STREAM
    assert len(server.requests) == 1
    # a replayable request refused twice gives up after one retry
    with pytest.raises(StreamError):
        await client.get(server.url_for("/"))
    assert len(server.requests) == 3


# --- GOAWAY ---------------------------------------------------------------------------------------


def _goaway_after(n: int, code: int = 0) -> Callable[[H2Request], Any]:
    """The first connection answers its first stream only after sending GOAWAY(last=that
    stream), once `n` requests are open; later connections answer at once."""

    async def handler(req: H2Request) -> None:
        conn = req.conn
        if conn.index > 0:
            await req.read_body()
            await req.respond(200, f"conn{conn.index}".encode())
            return
        server = conn.server
        await server.wait_for(lambda: len(conn.requests) >= n, what=f"{n} requests")
        first = min(conn.requests)
        if req.stream_id == first:
            await conn.goaway(code, last_stream_id=first)
            if code == 0:
                await req.respond(200, b"conn0")
        else:
            await asyncio.sleep(30)

    return handler


async def test_goaway_retries_unprocessed_idempotent_streams(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    server = h2_server_factory(_goaway_after(3))
    results = await asyncio.wait_for(
        asyncio.gather(*[client.get(server.url_for("/")) for _ in range(3)]), 10
    )
    assert sorted(r.content for r in results) == [b"conn0", b"conn1", b"conn1"]
    assert len(server.connections) == 2
    # the new connection serves what follows
    assert (await client.get(server.url_for("/"))).content == b"conn1"


async def test_goaway_retries_unprocessed_posts_with_bytes_bodies(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    """Issue 11.1: what the server did not process goes again whatever the method."""
    server = h2_server_factory(_goaway_after(3))
    results = await asyncio.wait_for(
        asyncio.gather(*[client.post(server.url_for("/"), content=b"x") for _ in range(3)]), 10
    )
    assert sorted(r.content for r in results) == [b"conn0", b"conn1", b"conn1"]
    assert [r.body for r in server.requests if r.conn.index == 1] == [b"x", b"x"]


async def test_goaway_fails_unprocessed_streamed_posts(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"x"

    server = h2_server_factory(_goaway_after(3))
    results = await asyncio.wait_for(
        asyncio.gather(
            *[client.post(server.url_for("/"), content=body()) for _ in range(3)],
            return_exceptions=True,
        ),
        10,
    )
    ok = [r for r in results if not isinstance(r, BaseException)]
    failed = [r for r in results if isinstance(r, BaseException)]
    assert [r.content for r in ok] == [b"conn0"]
    assert len(failed) == 2
    assert all(type(e) is RemoteProtocolError for e in failed)
    assert all("GOAWAY" in str(e) for e in failed)
    assert len(server.connections) == 1


def rotating(limit: int) -> Callable[[H2Request], Any]:
    """nginx's keepalive_requests: each connection processes its first `limit` streams, and
    the last of them sends GOAWAY(last = it); the streams above are left unprocessed."""

    async def handler(req: H2Request) -> None:
        conn = req.conn
        processed = sorted(conn.requests)[:limit]
        if req.stream_id not in processed:
            await asyncio.sleep(30)  # refused by the GOAWAY: the client gives up on it
            return
        if len(processed) == limit and req.stream_id == processed[-1]:
            await conn.goaway(0, last_stream_id=req.stream_id)
        await req.respond(200, f"conn{conn.index}".encode())

    return handler


async def test_rotating_server_refuses_nothing_once_its_limit_is_learnt(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    """Issue 11: a server that twice refused the streams above the same count: later
    connections open no more than that, and every request (a POST too) succeeds."""
    server = h2_server_factory(rotating(2))
    for _ in range(5):
        results = await asyncio.wait_for(asyncio.gather(
            *[client.post(server.url_for("/"), content=b"x") for _ in range(3)]), 10)
        assert all(r.status == 200 for r in results)
    learnt = [len(c.requests) for c in server.connections[3:]]
    assert learnt and max(learnt) <= 2


GOAWAY_AT_ONCE = hyperframe.frame.GoAwayFrame(0, last_stream_id=0).serialize()


async def test_goaway_with_the_preface_once_goes_on_a_new_connection(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    server = h2_server_factory()
    server.after_preface = lambda index: GOAWAY_AT_ONCE if index == 0 else b""
    assert (await client.post(server.url_for("/"), content=b"x")).content == b"ok"
    assert [r.conn.index for r in server.requests] == [1]


async def test_goaway_with_every_preface_fails_after_two_connections(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    server = h2_server_factory()
    server.after_preface = lambda index: GOAWAY_AT_ONCE
    with pytest.raises(RemoteProtocolError, match="closed before its first request"):
        await asyncio.wait_for(client.get(server.url_for("/")), 10)
    assert len(server.connections) == 2
    assert not server.requests
    await server.wait_for(lambda: all(c.closed for c in server.connections), what="closes")


async def test_goaway_then_frames_in_same_read(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    """A graceful GOAWAY followed at once by the in-flight response (one TCP segment)."""

    async def handler(req: H2Request) -> None:
        conn = req.conn
        if conn.index == 0:
            conn.h2.send_headers(req.stream_id, [(":status", "200")])
            conn.h2.send_data(req.stream_id, b"drained", end_stream=True)
            frame = __import__("hyperframe.frame").frame.GoAwayFrame(
                0, last_stream_id=req.stream_id, error_code=0
            )
            await conn.send_raw(frame.serialize() + conn.h2.data_to_send())
        else:
            await req.respond(200, b"fresh")

    server = h2_server_factory(handler)
    assert (await client.get(server.url_for("/"))).content == b"drained"
    assert (await client.get(server.url_for("/"))).content == b"fresh"
    assert len(server.connections) == 2


async def test_goaway_with_error_fails_in_flight_streams(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    server = h2_server_factory(_goaway_after(2, code=StreamErrorCode.PROTOCOL_ERROR))
    results = await asyncio.wait_for(
        asyncio.gather(*[client.get(server.url_for("/")) for _ in range(2)],
                       return_exceptions=True),
        10,
    )
    # stream 1 was in flight: fails; stream 3 was never processed: retried elsewhere
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1 and type(errors[0]) is RemoteProtocolError
    assert "connection error received: unspecific protocol error detected" in str(errors[0])
    assert [r.content for r in results if not isinstance(r, BaseException)] == [b"conn1"]
    assert (await client.get(server.url_for("/"))).content == b"conn1"


# --- connection-level failures --------------------------------------------------------------------


async def test_connection_error_fails_every_stream_and_leaves_pool(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    async def handler(req: H2Request) -> None:
        if req.conn.index == 0:
            await req.conn.server.wait_for(lambda: len(req.conn.requests) >= 3)
            if req.stream_id == 1:
                # a DATA frame on stream 0: a connection error
                await req.conn.send_raw(b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x")
            else:
                await asyncio.sleep(30)
        else:
            await req.respond(200, b"ok")

    server = h2_server_factory(handler)
    results = await asyncio.wait_for(
        asyncio.gather(*[client.get(server.url_for("/")) for _ in range(3)],
                       return_exceptions=True),
        10,
    )
    assert all(isinstance(r, RemoteProtocolError) for r in results), results
    assert (await client.get(server.url_for("/"))).content == b"ok"
    assert len(server.connections) == 2


async def test_connection_closed_mid_body(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    async def handler(req: H2Request) -> None:
        await req.send_headers(200, [("content-length", "100")])
        await req.send_data(b"x" * 10)
        await asyncio.sleep(0.05)
        req.conn.abort()

    server = h2_server_factory(handler)
    async with client.stream("GET", server.url_for("/")) as resp:
        assert resp.status == 200
        with pytest.raises((ReadError, RemoteProtocolError)):
            async for _ in resp.content:
                pass


async def test_connection_closed_before_response(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    async def handler(req: H2Request) -> None:
        if req.conn.index == 0:
            await req.conn.close()
        else:
            await req.respond(200, b"ok")

    server = h2_server_factory(handler)
    with pytest.raises((RemoteProtocolError, ReadError, WriteError)):
        await client.post(server.url_for("/"), content=b"not replayable")
    assert (await client.get(server.url_for("/"))).content == b"ok"


async def test_hpack_length_overflow_is_a_connection_error(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    """A header string length past 2**28 (fuzz/fuzz_h2.py: MemoryError out of the read)."""

    async def handler(req: H2Request) -> None:
        block = b"\x88\x00\x00\xff\xff\xff\xff\xff\x48HHHH"  # :status 200, then the length
        frame = hyperframe.frame.HeadersFrame(req.stream_id, data=block, flags=["END_HEADERS"])
        await req.conn.send_raw(frame.serialize())

    server = h2_server_factory(handler)
    with pytest.raises(RemoteProtocolError, match="connection error detected"):
        await asyncio.wait_for(client.get(server.url_for("/")), 10)


async def test_prior_knowledge_to_http1_server(client: Client, scripted: Any) -> None:
    from servers.scripted import canned

    scripted.handler = canned(
        b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n", read_request=False
    )
    with pytest.raises((RemoteProtocolError, ConnectionError)):
        await client.get(scripted.url_for("/"))


async def test_too_many_response_headers(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    async def handler(req: H2Request) -> None:
        if req.path == "/many":
            await req.respond(200, b"", [(f"x-h{i}", "v") for i in range(101)])
        else:
            await req.respond(200, b"ok")

    server = h2_server_factory(handler)
    with pytest.raises(RemoteProtocolError, match="100 header fields"):
        await client.get(server.url_for("/many"))
    assert (await client.get(server.url_for("/"))).content == b"ok"
    assert len(server.connections) == 1


@pytest.mark.parametrize("status", ["099", "000"])
async def test_status_below_100_is_a_protocol_error(
    client: Client, h2_server_factory: ServerFactory, status: str
) -> None:
    """As on HTTP/1.1: no informational response, no final one (spec: 100-999)."""

    async def handler(req: H2Request) -> None:
        if req.path == "/bad":
            req.conn.h2.send_headers(req.stream_id, [(":status", status)], end_stream=True)
            await req.conn.flush()
        else:
            await req.respond(200, b"ok")

    server = h2_server_factory(handler)
    with pytest.raises(RemoteProtocolError, match=f"invalid :status b'{status}'"):
        await client.get(server.url_for("/bad"))
    assert (await client.get(server.url_for("/"))).content == b"ok"


# --- concurrency limit ----------------------------------------------------------------------------


async def test_max_concurrent_streams_is_respected(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    async def handler(req: H2Request) -> None:
        await req.read_body()
        await asyncio.sleep(0.02)
        await req.respond(200, req.path.encode())

    server = h2_server_factory(handler, max_concurrent_streams=1)
    results = await asyncio.wait_for(
        asyncio.gather(*[client.get(server.url_for(f"/{i}")) for i in range(10)]), 10
    )
    assert [r.content for r in results] == [f"/{i}".encode() for i in range(10)]
    assert server.max_open == 1
    assert len(server.connections) == 1
    assert not server.protocol_errors


NO_STREAMS = {h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 0}


async def test_no_streams_allowed_waits_for_the_timeout_on_one_connection(
    make_transport: Any, h2_server_factory: ServerFactory
) -> None:
    """Issue 10.2: SETTINGS_MAX_CONCURRENT_STREAMS = 0 made the client open connections in a
    tight loop and never close them."""
    server = h2_server_factory(settings=NO_STREAMS)
    before = open_sockets()
    # the total timeout also bounds connecting: room for a loaded machine's handshake
    transport = make_transport(http_version=HTTPVersion.HTTP2, timeout=2.0)
    client = Client(transport)
    results = await asyncio.wait_for(
        asyncio.gather(*[client.get(server.url_for("/")) for _ in range(5)],
                       return_exceptions=True),
        10,
    )
    assert all(type(r) is TimeoutError for r in results), results
    assert all("waiting for an HTTP/2 stream" in str(r) for r in results)
    assert len(server.connections) == 1
    assert not server.requests
    await transport.aclose()
    await server.wait_for(lambda: server.connections[0].closed, what="the client's close")
    await server.wait_for(lambda: open_sockets() <= before, what=f"{before} sockets open")


async def test_no_streams_allowed_without_timeout_ends_in_an_error(
    client: Client, h2_server_factory: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pyqwest._h2.pool, "NO_STREAMS_WAIT", 0.3)
    server = h2_server_factory(settings=NO_STREAMS)
    with pytest.raises(RemoteProtocolError, match=r"allows no streams .*= 0\) for 0.3 s"):
        await asyncio.wait_for(client.get(server.url_for("/")), 10)
    assert len(server.connections) == 1


async def test_waiting_request_goes_once_the_server_allows_streams(
    make_transport: Any, h2_server_factory: ServerFactory
) -> None:
    async def allow_later(conn: H2ServerConn) -> None:
        await asyncio.sleep(0.2)
        conn.h2.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 10})
        await conn.flush()

    server = h2_server_factory(settings=NO_STREAMS)
    server.on_connect = allow_later
    client = Client(make_transport(http_version=HTTPVersion.HTTP2, timeout=10))
    results = await asyncio.gather(*[client.get(server.url_for("/")) for _ in range(3)])
    assert [r.content for r in results] == [b"ok"] * 3
    assert len(server.connections) == 1


async def test_cancelled_waiter_for_stream_slot(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    async def handler(req: H2Request) -> None:
        await asyncio.sleep(0.1)
        await req.respond(200, b"ok")

    server = h2_server_factory(handler, max_concurrent_streams=1)
    first = asyncio.ensure_future(client.get(server.url_for("/")))
    await server.wait_for(lambda: len(server.requests) == 1)
    waiting = [asyncio.ensure_future(client.get(server.url_for("/"))) for _ in range(3)]
    await asyncio.sleep(0.01)
    waiting[0].cancel()
    done = await asyncio.wait_for(asyncio.gather(first, *waiting[1:]), 10)
    assert all(r.content == b"ok" for r in done)


async def test_a_waiter_gets_the_next_free_stream_slot(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    """Stream slots go in the order they were asked for: a request sent meanwhile does not
    take the slot freed for one already waiting (issue 11: a resend overtaken until a rotating
    server's limit refused it again)."""

    async def handler(req: H2Request) -> None:
        # the first one long enough for the other request to queue behind it
        await asyncio.sleep(0.3 if req.path == "/0" else 0.01)
        await req.respond(200, b"ok")

    server = h2_server_factory(handler, max_concurrent_streams=1)
    done: list[str] = []

    async def one_after_another() -> None:
        for i in range(5):
            await client.get(server.url_for(f"/{i}"))
            done.append(f"/{i}")

    worker = asyncio.ensure_future(one_after_another())
    await server.wait_for(lambda: len(server.requests) == 1)
    await client.get(server.url_for("/waiting"))
    done.append("/waiting")
    await asyncio.wait_for(worker, 10)
    assert done[:2] == ["/0", "/waiting"]


# --- cancellation and closing send RST_STREAM(CANCEL) ---------------------------------------------


async def test_cancel_sends_rst_stream_cancel(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    async def handler(req: H2Request) -> None:
        if req.path == "/slow":
            await asyncio.sleep(30)
        await req.respond(200, b"ok")

    server = h2_server_factory(handler)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.get(server.url_for("/slow")), 0.2)
    await server.wait_for(lambda: (1, StreamErrorCode.CANCEL) in server.resets)
    assert (await client.get(server.url_for("/"))).content == b"ok"
    assert len(server.connections) == 1


async def test_closing_unread_response_sends_rst_stream_cancel(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    async def handler(req: H2Request) -> None:
        await req.send_headers(200)
        await req.send_data(b"z" * 1000)
        await asyncio.sleep(30)

    server = h2_server_factory(handler)
    async with client.stream("GET", server.url_for("/")) as resp:
        assert resp.status == 200
    await server.wait_for(lambda: (1, StreamErrorCode.CANCEL) in server.resets)


async def test_body_iterator_error_resets_stream(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    async def handler(req: H2Request) -> None:
        await req.read_body()
        await req.respond(200, b"ok")

    async def body() -> AsyncIterator[Any]:
        yield b"fine"
        yield 42

    server = h2_server_factory(handler)
    with pytest.raises(WriteError, match="Request failed: stream error sent by user"):
        await client.post(server.url_for("/"), content=body())
    await server.wait_for(lambda: (1, StreamErrorCode.INTERNAL_ERROR) in server.resets)
    assert (await client.get(server.url_for("/"))).content == b"ok"
    assert len(server.connections) == 1


async def test_tls_alpn_h2_raw_server(
    make_transport: Any, h2_server_factory: ServerFactory, server_ssl_context: Any
) -> None:
    server = h2_server_factory(ssl_context=server_ssl_context(alpn=["h2"]))
    client = Client(make_transport())
    async with client.stream("GET", server.url_for("/")) as resp:
        assert resp.http_version == HTTPVersion.HTTP2
        assert b"".join([bytes(c) async for c in resp.content]) == b"ok"
    assert server.requests[0].header(":authority") == f"127.0.0.1:{server.port}"
    assert server.requests[0].header(":scheme") == "https"


async def test_pool_idle_timeout_closes_h2_connection(
    make_transport: Any, h2_server_factory: ServerFactory
) -> None:
    server = h2_server_factory()
    client = Client(make_transport(http_version=HTTPVersion.HTTP2, pool_idle_timeout=0.2))
    assert (await client.get(server.url_for("/"))).content == b"ok"
    conn: H2ServerConn = server.connections[0]
    await server.wait_for(lambda: conn.client_eof or conn.closed, 5, "idle close")
    assert (await client.get(server.url_for("/"))).content == b"ok"
    assert len(server.connections) == 2


async def test_total_timeout_covers_waiting_for_a_stream_slot(
    make_transport: Any, h2_server_factory: ServerFactory
) -> None:
    async def handler(req: H2Request) -> None:
        await req.respond(200, b"ok")

    async def endless() -> AsyncIterator[bytes]:
        yield b"first"
        await asyncio.sleep(30)
        yield b"never"

    server = h2_server_factory(handler, max_concurrent_streams=1)
    client = Client(make_transport(http_version=HTTPVersion.HTTP2, timeout=0.3))
    # a response whose request body is still being sent holds the only slot
    async with client.stream("POST", server.url_for("/"), content=endless()) as holder:
        assert holder.status == 200
        with pytest.raises(TimeoutError, match="waiting for an HTTP/2 stream"):
            await client.get(server.url_for("/"))
    # closing it freed the slot
    assert (await client.get(server.url_for("/"))).content == b"ok"


async def test_response_head_in_continuation_frames(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    values = [f"{i:04d}" + "v" * 2000 for i in range(40)]  # 80 KB: HEADERS + CONTINUATIONs

    async def handler(req: H2Request) -> None:
        await req.respond(200, b"ok", headers=[(f"x-h{i}", v) for i, v in enumerate(values)])

    server = h2_server_factory(handler)
    resp = await client.get(server.url_for("/"))
    assert [resp.headers[f"x-h{i}"] for i in range(40)] == values
    assert resp.content == b"ok"




async def test_request_on_a_dead_reused_connection_is_retried(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    async def handler(req: H2Request) -> None:
        if req.conn.index == 0 and len(req.conn.requests) == 2:
            req.conn.abort()  # gone without GOAWAY, as a stale pooled connection is
            return
        await req.respond(200, f"conn{req.conn.index}".encode())

    server = h2_server_factory(handler)
    assert (await client.get(server.url_for("/"))).content == b"conn0"
    assert (await client.get(server.url_for("/"))).content == b"conn1"



# --- a cancelled download: one RST_STREAM, late frames dropped quietly ----------------------------

# More than our connection window (16 MiB): if dropped frames did not return their credit, the
# connection would fail with a flow-control error before the next request.
LATE_DATA = 17 << 20


async def _cancel_download(client: Client, url: str, how: str) -> None:
    """Read the first chunk of a download, then abandon it `how`."""
    if how == "break":
        async with client.stream("GET", url) as resp:
            async for _ in resp.content:
                break
    elif how == "aclose":
        resp = await client.stream("GET", url)
        await resp.content.__anext__()
        await resp.aclose()
    else:  # the read timeout fires while the server stalls
        async with client.stream("GET", url) as resp:
            await resp.content.__anext__()
            with pytest.raises(TimeoutError):
                await resp.content.__anext__()


@pytest.mark.parametrize("how", ["break", "aclose", "read_timeout"])
async def test_cancelled_download_sends_one_reset_and_drops_late_frames(
    make_transport: Any, h2_server_factory: ServerFactory, how: str
) -> None:
    late_sent = asyncio.Event()

    async def handler(req: H2Request) -> None:
        if req.path != "/big":
            await late_sent.wait()
            await req.respond(200, b"after")
            return
        await req.send_headers(200)
        await req.send_data(b"x" * 65536)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            # the client's RST_STREAM came: these frames were in flight when it left
            frame = hyperframe.frame.DataFrame(req.stream_id, data=b"y" * 65536)
            trailers = hyperframe.frame.HeadersFrame(
                req.stream_id,
                data=req.conn.h2.encoder.encode([("x-trailer", "late")]),
                flags=["END_HEADERS", "END_STREAM"],
            )
            await req.conn.send_raw(
                frame.serialize() * (LATE_DATA // 65536) + trailers.serialize()
            )
            late_sent.set()

    server = h2_server_factory(handler)
    client = Client(make_transport(http_version=HTTPVersion.HTTP2, read_timeout=1.0))
    await _cancel_download(client, server.url_for("/big"), how)
    assert (await client.get(server.url_for("/after"))).content == b"after"
    # the answers to the late frames, if any, were sent before this request
    assert (await client.get(server.url_for("/after"))).content == b"after"
    assert server.frames.count(("RstStreamFrame", 1)) == 1
    assert len(server.connections) == 1


async def test_server_not_reading_its_ping_acks_fails_the_connection(
    client: Client, h2_server_factory: ServerFactory
) -> None:
    pings = hyperframe.frame.PingFrame(0, opaque_data=b"12345678").serialize() * 65536

    async def flood(conn: H2ServerConn) -> None:
        await conn.server.wait_for(lambda: bool(conn.requests), what="the request")
        conn.writer.transport.pause_reading()  # type: ignore[attr-defined]
        with contextlib.suppress(*PEER_GONE):  # until the client gives up on us
            for _ in range(64):  # 64 MiB of PINGs: far more than the socket buffers take
                await conn.send_raw(pings)

    async def handler(req: H2Request) -> None:
        await asyncio.sleep(30)

    server = h2_server_factory(handler)
    server.on_connect = flood
    with pytest.raises(RemoteProtocolError, match="does not read the answers"):
        await asyncio.wait_for(client.get(server.url_for("/")), 30)
