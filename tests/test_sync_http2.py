"""SyncHTTPTransport over HTTP/2 (issue 12 part 2): ALPN and prior knowledge, one multiplexed
connection shared by threads, flow control, trailers, and the RST_STREAM / GOAWAY rules of the
async driver (test_http2*.py), against hypercorn and the raw h2 server."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from servers import payload
from servers.h2raw import H2Request
from test_http2_faults import CODES, _goaway_after, _head_then_reset, rotating
from test_sync_client import duplex_echo
from test_sync_threads import _blocked_reader

from pyqwest import (
    HTTPVersion,
    ReadError,
    RemoteProtocolError,
    StreamError,
    StreamErrorCode,
    SyncClient,
    WriteError,
)

MiB = 1 << 20


@pytest.fixture
def h2c(make_sync_transport: Any) -> SyncClient:
    """HTTP/2 with prior knowledge (h2c on plain TCP), bounded by a generous timeout."""
    return SyncClient(make_sync_transport(http_version=HTTPVersion.HTTP2, timeout=30))


@pytest.fixture
def tls(make_sync_transport: Any) -> SyncClient:
    return SyncClient(make_sync_transport(timeout=30))


# --- version selection ---------------------------------------------------------------------


def test_auto_over_tls_negotiates_h2(tls, https_server):
    with tls.stream("GET", https_server.url + "/echo") as resp:
        assert resp.http_version == HTTPVersion.HTTP2
        assert resp.headers["x-echo-method"] == "GET"


def test_auto_over_plain_tcp_is_http1(tls, http_server):
    with tls.stream("GET", http_server.url + "/echo") as resp:
        assert resp.http_version == HTTPVersion.HTTP1


def test_forced_http1_over_tls(make_sync_transport, https_server):
    client = SyncClient(make_sync_transport(http_version=HTTPVersion.HTTP1))
    with client.stream("GET", https_server.url + "/echo") as resp:
        assert resp.http_version == HTTPVersion.HTTP1


def test_prior_knowledge_on_plain_tcp(h2c, http_server):
    with h2c.stream("GET", http_server.url + "/echo") as resp:
        assert resp.http_version == HTTPVersion.HTTP2


def test_auto_falls_back_when_server_picks_http1(tls, scripted_factory, server_ssl_context):
    from servers.scripted import keep_alive

    server = scripted_factory(keep_alive(b"h1"), ssl_context=server_ssl_context())
    for _ in range(3):
        with tls.stream("GET", server.url_for("/")) as resp:
            assert resp.http_version == HTTPVersion.HTTP1
            assert b"".join(resp.content) == b"h1"
    assert server.accepted == 1  # the negotiated connection served them all


# --- threads on one connection ---------------------------------------------------------------


def test_sixteen_threads_share_one_connection(tls, https_server):
    def worker(n: int) -> set[str]:
        ports = set()
        for i in range(10):
            resp = tls.post(https_server.url + "/echo", {"x-tag": f"{n}-{i}"}, b"%d-%d" % (n, i))
            assert resp.headers["x-echo-x-tag"] == f"{n}-{i}"
            assert resp.content == b"%d-%d" % (n, i)
            ports.add(resp.headers["x-conn-port"])
        return ports

    with ThreadPoolExecutor(16) as pool:
        ports = set().union(*pool.map(worker, range(16)))
    assert len(ports) == 1


def test_eight_threads_download_1mib_each(tls, https_server):
    with ThreadPoolExecutor(8) as pool:
        bodies = list(pool.map(lambda _: tls.get(https_server.url + f"/bytes/{MiB}").content,
                               range(8)))
    assert all(b == payload(MiB) for b in bodies)


def test_streamed_uploads_from_threads(h2c, http_server):
    data = b"".join(b"%06d" % i for i in range(50_000))

    def upload(_: int) -> bytes:
        chunks = (data[i:i + 30_000] for i in range(0, len(data), 30_000))
        return h2c.post(http_server.url + "/echo", content=chunks).content

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(upload, range(4))) == [data] * 4


def test_large_bytes_body_beyond_the_window(h2c, http_server):
    data = payload(3 * MiB)
    assert h2c.post(http_server.url + "/echo", content=data).content == data


def test_slow_consumer_stalls_only_its_stream(h2c, http_server):
    big = 12 * MiB
    with h2c.stream("GET", http_server.url + f"/bytes/{big}") as slow:
        port = slow.headers["x-conn-port"]
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(
                lambda _: h2c.get(http_server.url + f"/bytes/{MiB}"), range(8)))
        assert all(len(r.content) == MiB for r in results)
        assert {r.headers["x-conn-port"] for r in results} == {port}
        assert b"".join(slow.content) == payload(big)


# --- trailers, duplex, bodies ----------------------------------------------------------------


def test_trailers_buffered_and_streamed(h2c, http_server):
    resp = h2c.post(http_server.url + "/echo", {"te": "trailers"}, b"body")
    assert resp.content == b"body"
    assert resp.trailers == {"x-echo-trailer": "last info"}
    with h2c.stream("POST", http_server.url + "/echo", {"te": "trailers"}, b"x") as streamed:
        assert b"".join(streamed.content) == b"x"
        assert streamed.trailers == {"x-echo-trailer": "last info"}


def test_full_duplex_echo(h2c, http_server):
    assert duplex_echo(h2c, http_server.url + "/echo") == [b"chunk0", b"chunk1", b"chunk2"]


def test_head_and_statuses(h2c, http_server):
    assert h2c.head(http_server.url + "/bytes/100").content == b""
    for status in (204, 404, 500):
        assert h2c.get(http_server.url + "/echo", {"x-response-status": str(status)}).status \
            == status


def test_decoding_redirects_cookies_over_h2(make_sync_transport, semantics_server):
    client = SyncClient(make_sync_transport(
        http_version=HTTPVersion.HTTP2, enable_cookie_store=True, timeout=30))
    assert client.get(semantics_server.url + "/encoded?codings=br&size=5000").content \
        == payload(5000)
    resp = client.get(semantics_server.url + "/redirect?to=/encoded%3Fsize%3D10")
    assert resp.content == payload(10)
    client.get(semantics_server.url + "/set-cookie?c=k=v")
    assert '"cookie", "k=v"' in client.get(semantics_server.url + "/request").text()


# --- timeouts and closing --------------------------------------------------------------------


def test_total_timeout(make_sync_transport, http_server):
    client = SyncClient(make_sync_transport(http_version=HTTPVersion.HTTP2, timeout=0.3))
    with pytest.raises(TimeoutError):
        client.get(http_server.url + "/stall")
    assert client.get(http_server.url + "/echo").status == 200


def test_read_timeout_on_body(make_sync_transport, http_server):
    client = SyncClient(make_sync_transport(http_version=HTTPVersion.HTTP2, read_timeout=0.3))
    with client.stream("GET", http_server.url + "/stall") as resp, pytest.raises(TimeoutError):
        next(resp.content)


def test_per_call_timeout(h2c, http_server):
    with pytest.raises(TimeoutError):
        h2c.get(http_server.url + "/stall?where=headers", timeout=0.3)


def test_close_during_pending_read_from_another_thread(h2c, http_server):
    resp = h2c.stream("GET", http_server.url + "/stall").__enter__()
    reader, errors = _blocked_reader(resp)
    resp.close()
    reader.join(5)
    assert not reader.is_alive()
    assert [type(e) for e in errors] == [ReadError]
    # the connection stays up for the others
    assert h2c.get(http_server.url + "/echo").status == 200


def test_transport_close_wakes_blocked_reader(make_sync_transport, http_server):
    transport = make_sync_transport(http_version=HTTPVersion.HTTP2)
    resp = SyncClient(transport).stream("GET", http_server.url + "/stall").__enter__()
    reader, errors = _blocked_reader(resp)
    transport.close()
    reader.join(5)
    assert not reader.is_alive()
    assert [type(e) for e in errors] == [ReadError]


# --- faults (raw h2 server) ------------------------------------------------------------------


@pytest.mark.parametrize("code", CODES, ids=lambda c: c.name)
def test_reset_before_head(h2c, h2_server_factory, code):
    async def handler(req: H2Request) -> None:
        await req.reset(code)

    server = h2_server_factory(handler)
    with pytest.raises(StreamError) as info:
        h2c.get(server.url_for("/"))
    assert info.value.code is code
    assert str(info.value).startswith("Request failed: stream error received: ")
    assert len(server.connections) == 1


def test_reset_during_body(h2c, h2_server_factory):
    server = h2_server_factory(lambda req: _head_then_reset(req, StreamErrorCode.INTERNAL_ERROR))
    with h2c.stream("GET", server.url_for("/")) as resp:
        assert bytes(next(resp.content)) == b"x" * 10
        with pytest.raises(StreamError) as info:
            next(resp.content)
    assert info.value.code is StreamErrorCode.INTERNAL_ERROR
    assert str(info.value).startswith("Error reading content: ")


def test_no_error_reset_during_body_ends_it(h2c, h2_server_factory):
    async def handler(req: H2Request) -> None:
        await req.send_headers(200)
        await req.send_data(b"partial")
        await asyncio.sleep(0.05)
        await req.reset(StreamErrorCode.NO_ERROR)

    server = h2_server_factory(handler)
    assert h2c.get(server.url_for("/")).content == b"partial"


def test_refused_stream_retried_once_when_replayable(h2c, h2_server_factory):
    async def handler(req: H2Request) -> None:
        if len(req.conn.server.requests) == 1:
            await req.reset(StreamErrorCode.REFUSED_STREAM)
        else:
            await req.respond(200, b"second")

    server = h2_server_factory(handler)
    assert h2c.get(server.url_for("/")).content == b"second"
    assert len(server.requests) == 2


def test_rotating_server_refuses_nothing_once_its_limit_is_learnt(h2c, h2_server_factory):
    """Issue 11, as the async driver: once the server was twice seen to process 2 streams
    and refuse the rest, no connection opens more, and every POST (3 threads at a time)
    succeeds. Which connections teach it is the threads' timing (a connection on which only
    2 streams were opened refuses nothing and teaches nothing), so: at most two refuse."""
    server = h2_server_factory(rotating(2))
    with ThreadPoolExecutor(3) as pool:
        for _ in range(5):
            results = list(pool.map(
                lambda _: h2c.post(server.url_for("/"), content=b"x"), range(3)))
            assert all(r.status == 200 for r in results)
    opened = [len(c.requests) for c in server.connections]
    assert len(opened) > 3
    assert sum(n > 2 for n in opened) <= 2, opened


def test_refused_stream_not_retried_for_streamed_post(h2c, h2_server_factory):
    async def handler(req: H2Request) -> None:
        await req.reset(StreamErrorCode.REFUSED_STREAM)

    server = h2_server_factory(handler)
    with pytest.raises(StreamError) as info:
        h2c.post(server.url_for("/"), content=iter([b"data"]))
    assert info.value.code is StreamErrorCode.REFUSED_STREAM
    assert len(server.requests) == 1


def test_goaway_retries_unprocessed_idempotent_streams(h2c, h2_server_factory):
    server = h2_server_factory(_goaway_after(3))
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: h2c.get(server.url_for("/")), range(3)))
    assert sorted(r.content for r in results) == [b"conn0", b"conn1", b"conn1"]
    assert len(server.connections) == 2
    assert h2c.get(server.url_for("/")).content == b"conn1"


def test_goaway_retries_unprocessed_posts_with_bytes_bodies(h2c, h2_server_factory):
    """What the server did not process goes again whatever the method (as on async)."""
    server = h2_server_factory(_goaway_after(3))
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: h2c.post(server.url_for("/"), content=b"x"),
                                range(3)))
    assert sorted(r.content for r in results) == [b"conn0", b"conn1", b"conn1"]
    assert [r.body for r in server.requests if r.conn.index == 1] == [b"x", b"x"]


def test_goaway_fails_unprocessed_streamed_posts(h2c, h2_server_factory):
    server = h2_server_factory(_goaway_after(3))

    def post(_: int) -> Any:
        try:
            return h2c.post(server.url_for("/"), content=iter([b"x"]))
        except BaseException as exc:
            return exc

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(post, range(3)))
    failed = [r for r in results if isinstance(r, BaseException)]
    assert [r.content for r in results if not isinstance(r, BaseException)] == [b"conn0"]
    assert len(failed) == 2
    assert all(type(e) is RemoteProtocolError and "GOAWAY" in str(e) for e in failed)
    assert len(server.connections) == 1


def test_connection_error_fails_every_stream(h2c, h2_server_factory):
    async def handler(req: H2Request) -> None:
        if req.conn.index == 0:
            await req.conn.server.wait_for(lambda: len(req.conn.requests) >= 3)
            if req.stream_id == 1:
                await req.conn.send_raw(b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x")
            else:
                await asyncio.sleep(30)
        else:
            await req.respond(200, b"ok")

    server = h2_server_factory(handler)

    def get(_: int) -> Any:
        try:
            return h2c.get(server.url_for("/"))
        except BaseException as exc:
            return exc

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(get, range(3)))
    assert all(isinstance(r, RemoteProtocolError) for r in results), results
    assert h2c.get(server.url_for("/")).content == b"ok"
    assert len(server.connections) == 2


def test_max_concurrent_streams_is_respected(h2c, h2_server_factory):
    async def handler(req: H2Request) -> None:
        await req.read_body()
        await asyncio.sleep(0.02)
        await req.respond(200, req.path.encode())

    server = h2_server_factory(handler, max_concurrent_streams=1)
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda i: h2c.get(server.url_for(f"/{i}")), range(6)))
    assert [r.content for r in results] == [f"/{i}".encode() for i in range(6)]
    assert server.max_open == 1
    assert len(server.connections) == 1


def test_a_waiting_thread_gets_the_next_free_stream_slot(h2c, h2_server_factory):
    """As on async: slots go in the order asked for; a thread sending request after request
    does not take the slot freed for one already waiting (issue 11)."""

    async def handler(req: H2Request) -> None:
        # the first one long enough for the other request to queue behind it
        await asyncio.sleep(0.3 if req.path == "/0" else 0.01)
        await req.respond(200, b"ok")

    server = h2_server_factory(handler, max_concurrent_streams=1)
    done: list[str] = []

    def one_after_another() -> None:
        for i in range(5):
            h2c.get(server.url_for(f"/{i}"))
            done.append(f"/{i}")

    with ThreadPoolExecutor(1) as pool:
        worker = pool.submit(one_after_another)
        for _ in range(500):
            if server.requests:
                break
            threading.Event().wait(0.01)
        h2c.get(server.url_for("/waiting"))
        done.append("/waiting")
        worker.result(10)
    assert done[:2] == ["/0", "/waiting"]


def test_waiting_for_a_stream_slot_ends_at_the_timeout(make_sync_transport, h2_server_factory):
    """A thread waiting for a slot that does not free in time gets the async driver's
    TimeoutError; the slot, once free, serves the next request."""

    async def handler(req: H2Request) -> None:
        await asyncio.sleep(1.0 if req.path == "/slow" else 0)
        await req.respond(200, b"ok")

    server = h2_server_factory(handler, max_concurrent_streams=1)
    client = SyncClient(make_sync_transport(http_version=HTTPVersion.HTTP2, timeout=30))
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(client.get, server.url_for("/slow"))
        for _ in range(500):
            if server.requests:
                break
            threading.Event().wait(0.01)
        with pytest.raises(TimeoutError, match="waiting for an HTTP/2 stream"):
            client.get(server.url_for("/"), timeout=0.2)
        assert slow.result(10).content == b"ok"
    assert client.get(server.url_for("/")).content == b"ok"


def test_closing_unread_response_sends_cancel(h2c, h2_server_factory):
    async def handler(req: H2Request) -> None:
        await req.send_headers(200)
        await req.send_data(b"more to come")
        await asyncio.sleep(5)

    server = h2_server_factory(handler)
    with h2c.stream("GET", server.url_for("/")) as resp:
        assert resp.status == 200
    for _ in range(200):
        if server.resets:
            break
        threading.Event().wait(0.01)
    assert server.resets == [(1, StreamErrorCode.CANCEL)]


def test_body_iterator_error_resets_stream(h2c, h2_server_factory):
    async def handler(req: H2Request) -> None:
        await req.read_body()
        await req.respond(200, b"never")

    def body():
        yield b"a"
        raise RuntimeError("broken body")

    server = h2_server_factory(handler)
    with pytest.raises((WriteError, ReadError)) as info:
        h2c.post(server.url_for("/"), content=body())
    assert "stream error sent by user" in str(info.value)
