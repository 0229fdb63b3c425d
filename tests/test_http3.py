"""HTTP/3 over QUIC against hypercorn (aioquic): version, methods, bodies both ways and
streamed, multiplexing on one connection, headers, decoding, redirects, cookies, TLS, timeouts,
cancellation. Fault cases (resets, GOAWAY, loss, a vanished server) are in
test_http3_faults.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from servers import HypercornServer, payload

from pyqwest import (
    Client,
    ConnectTimeout,
    HTTPTransport,
    HTTPVersion,
    ReadError,
    SyncHTTPTransport,
)

MiB = 1 << 20


@pytest.fixture
def h3(make_transport: Any) -> Client:
    """A client speaking HTTP/3 (QUIC prior knowledge), trusting the test CA."""
    return Client(make_transport(http_version=HTTPVersion.HTTP3))


@pytest.mark.parametrize("transport", [HTTPTransport, SyncHTTPTransport])
def test_without_the_extra_http3_is_a_value_error(
    monkeypatch: pytest.MonkeyPatch, transport: type[Any]
) -> None:
    import sys

    # the QUIC library missing, as without cpqwest[http3]
    for name in ["qh3", *[m for m in sys.modules if m.startswith("qh3.")]]:
        monkeypatch.setitem(sys.modules, name, None)
    for name in [m for m in sys.modules if m.startswith("pyqwest._h3")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.delattr(sys.modules["pyqwest"], "_h3", raising=False)
    with pytest.raises(ValueError, match=r"cpqwest\[http3\]"):
        transport(http_version=HTTPVersion.HTTP3)


# --- basics -----------------------------------------------------------------------------------


async def test_get_reports_http3(h3: Client, h3_server: HypercornServer) -> None:
    async with h3.stream("GET", h3_server.url + "/echo?a=b") as resp:
        assert resp.http_version == HTTPVersion.HTTP3
        assert resp.status == 200
        assert resp.headers["x-echo-method"] == "GET"
        assert resp.headers["x-echo-query-string"] == "a=b"
        assert resp.headers["x-echo-host"] == h3_server.netloc
    full = await h3.get(h3_server.url + "/echo", params={"a": "b c"})
    assert full.headers["x-echo-query-string"] == "a=b+c"


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
                                    "CUSTOM"])
async def test_every_method(h3: Client, h3_server: HypercornServer, method: str) -> None:
    resp = await h3.execute(method, h3_server.url + "/echo")
    assert resp.status == 200
    assert resp.headers["x-echo-method"] == method


async def test_head_and_no_body_statuses(h3: Client, h3_server: HypercornServer) -> None:
    head = await h3.head(h3_server.url + f"/bytes/{MiB}")
    assert (head.status, head.content) == (200, b"")
    for code in (204, 304):
        resp = await h3.get(h3_server.url + f"/status/{code}")
        assert (resp.status, resp.content) == (code, b"")


async def test_statuses_verbatim(h3: Client, h3_server: HypercornServer) -> None:
    for code in (201, 404, 500, 598):
        assert (await h3.get(h3_server.url + f"/status/{code}")).status == code


async def test_a_large_request_header_goes_through(h3: Client, h3_server: HypercornServer) -> None:
    token = "t" * 20_000  # (qh3's QPACK coder alone refuses fields over 4 KiB coded)
    resp = await h3.get(h3_server.url + "/echo", {"x-token": token})
    assert resp.headers["x-echo-x-token"] == token
    assert (await h3.get(h3_server.url + "/echo")).status == 200  # the same connection goes on


async def test_request_headers_and_duplicates(h3: Client, h3_server: HypercornServer) -> None:
    resp = await h3.get(
        h3_server.url + "/echo", [("x-dup", "1"), ("x-dup", "2"), ("connection", "close")]
    )
    assert resp.headers.getall("x-echo-x-dup") == ["1", "2"]
    # connection-specific fields have no place in HTTP/3 (RFC 9114 §4.2)
    assert "x-echo-connection" not in resp.headers


async def test_json_and_bytes_bodies(h3: Client, h3_server: HypercornServer) -> None:
    resp = await h3.post(h3_server.url + "/echo", content={"message": "Hello, World!"})
    assert resp.content == b'{"message": "Hello, World!"}'
    assert resp.headers["content-type"] == "application/json"
    assert (await h3.put(h3_server.url + "/echo", content=b"")).content == b""
    assert (await h3.get(h3_server.url + "/echo")).content == b""


async def test_unicode_path_and_query(h3: Client, h3_server: HypercornServer) -> None:
    resp = await h3.get(h3_server.url + "/echo?q=日本")
    assert resp.headers["x-echo-query-string"] == "q=%E6%97%A5%E6%9C%AC"


# --- bodies, both ways ---------------------------------------------------------------------


async def test_large_download_buffered_and_streamed(
    h3: Client, h3_server: HypercornServer
) -> None:
    expected = payload(4 * MiB)
    assert (await h3.get(h3_server.url + f"/bytes/{4 * MiB}")).content == expected
    async with h3.stream("GET", h3_server.url + f"/chunked/{4 * MiB}?chunks=16") as resp:
        assert b"".join([bytes(c) async for c in resp.content]) == expected


async def test_large_upload_bytes_and_streamed(h3: Client, h3_server: HypercornServer) -> None:
    data = payload(4 * MiB, offset=3)
    assert (await h3.post(h3_server.url + "/echo", content=data)).content == data

    async def gen() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 100_000):
            yield data[i : i + 100_000]

    assert (await h3.post(h3_server.url + "/echo", content=gen())).content == data


async def test_hundred_chunk_body(h3: Client, h3_server: HypercornServer) -> None:
    async def gen() -> AsyncIterator[bytes]:
        for i in range(100):
            yield f"{i},".encode()

    resp = await h3.post(h3_server.url + "/echo", content=gen())
    assert resp.content == b"".join(f"{i},".encode() for i in range(100))


async def test_full_duplex_echo(h3: Client, h3_server: HypercornServer) -> None:
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def body() -> AsyncIterator[bytes]:
        while (item := await queue.get()) is not None:
            yield item

    async with h3.stream("POST", h3_server.url + "/echo", content=body()) as resp:
        assert resp.http_version == HTTPVersion.HTTP3
        it = resp.content.__aiter__()
        for i in range(5):
            chunk = f"chunk {i}".encode()
            await queue.put(chunk)
            assert bytes(await asyncio.wait_for(it.__anext__(), 5)) == chunk
        await queue.put(None)
        with pytest.raises(StopAsyncIteration):
            await it.__anext__()


async def test_body_iterator_error_is_a_write_error(
    h3: Client, h3_server: HypercornServer
) -> None:
    from pyqwest import WriteError

    async def body() -> AsyncIterator[bytes]:
        yield b"first"
        raise RuntimeError("boom")

    with pytest.raises((WriteError, ReadError), match=r"Request|connection|reading content"):
        await h3.post(h3_server.url + "/echo", content=body())
    # the connection still serves others
    assert (await h3.get(h3_server.url + "/echo")).status == 200


# --- one connection, many streams ----------------------------------------------------------


async def test_concurrent_requests_share_one_connection(
    h3: Client, h3_server: HypercornServer
) -> None:
    results = await asyncio.gather(
        *[h3.get(h3_server.url + "/conn?delay=0.05") for _ in range(64)]
    )
    assert all(r.status == 200 for r in results)
    assert len({r.headers["x-conn-port"] for r in results}) == 1


async def test_a_response_is_acknowledged_in_the_next_request_packet(
    h3: Client, h3_server: HypercornServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The flush a read asks for runs after the tasks that read woke, so the acknowledgement of
    # a response rides in the packet of the request its reader sends next (one datagram, not
    # two). Pinned as the order of events, not a datagram count: how the server splits a
    # response, and QUIC's timers (a due acknowledgement goes out on its own), vary with load.
    import pyqwest._h3.connection as driver

    events: list[tuple[str, str | None]] = []  # ("read", _), ("flush", who asked), ("reader", _)
    asked: list[str] = []  # who asked for the flush queued now
    in_read = False
    conn_cls = driver.H3Connection
    on_readable, flush_soon, flush = conn_cls._on_readable, conn_cls.flush_soon, conn_cls.flush
    read_batch = driver.read_batch

    def reading_batch(sock: Any, into: list[bytes]) -> Any:
        exc = read_batch(sock, into)
        if into:
            events.append(("read", None))
        return exc

    def reading(self: Any) -> None:
        nonlocal in_read
        in_read = True
        try:
            on_readable(self)
        finally:
            in_read = False

    def asking(self: Any) -> None:
        if not self._flush_pending:
            asked.append("read" if in_read else "other")
        flush_soon(self)

    def flushing(self: Any) -> None:
        events.append(("flush", asked.pop() if asked else "read" if in_read else "other"))
        flush(self)

    monkeypatch.setattr(driver, "read_batch", reading_batch)
    monkeypatch.setattr(conn_cls, "_on_readable", reading)  # (before the connection exists)
    monkeypatch.setattr(conn_cls, "flush_soon", asking)
    monkeypatch.setattr(conn_cls, "flush", flushing)
    assert (await h3.get(h3_server.url + "/echo")).status == 200  # the handshake
    events.clear()
    for _ in range(20):
        assert (await h3.get(h3_server.url + "/echo")).status == 200
        events.append(("reader", None))
    # between the read that completed each response and its reader's turn, no flush that
    # read asked for
    early = []
    for i, (what, _) in enumerate(events):
        if what == "reader":
            last_read = max(j for j in range(i) if events[j][0] == "read")
            early += [e for e in events[last_read:i] if e == ("flush", "read")]
    assert early == []


async def test_more_requests_than_stream_credit(h3: Client, h3_server: HypercornServer) -> None:
    # aioquic grants 128 bidirectional streams at first: the rest wait for more credit
    results = await asyncio.gather(*[h3.get(h3_server.url + "/conn") for _ in range(300)])
    assert all(r.status == 200 for r in results)
    assert len({r.headers["x-conn-port"] for r in results}) == 1


async def test_64_concurrent_uploads(h3: Client, h3_server: HypercornServer) -> None:
    bodies = [payload(256 << 10, offset=i) for i in range(64)]
    results = await asyncio.gather(
        *[h3.post(h3_server.url + "/echo", content=b) for b in bodies]
    )
    assert [r.content for r in results] == bodies


async def test_idle_connection_closed_after_pool_idle_timeout(
    make_transport: Any, h3_server: HypercornServer
) -> None:
    client = Client(make_transport(http_version=HTTPVersion.HTTP3, pool_idle_timeout=0.2))
    first = (await client.get(h3_server.url + "/conn")).content
    assert (await client.get(h3_server.url + "/conn")).content == first
    await asyncio.sleep(0.6)
    assert (await client.get(h3_server.url + "/conn")).content != first


# --- closing, cancelling --------------------------------------------------------------------


async def test_cancel_keeps_connection(h3: Client, h3_server: HypercornServer) -> None:
    port = (await h3.get(h3_server.url + "/conn")).content
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(h3.get(h3_server.url + "/stall?where=headers"), 0.2)
    results = await asyncio.gather(*[h3.get(h3_server.url + "/conn") for _ in range(4)])
    assert {r.content for r in results} == {port}


async def test_close_unread_response_keeps_connection(
    h3: Client, h3_server: HypercornServer
) -> None:
    async with h3.stream("GET", h3_server.url + f"/bytes/{8 * MiB}") as resp:
        port = resp.headers["x-conn-port"]
        await resp.content.__anext__()
    assert (await h3.get(h3_server.url + "/conn")).content.decode() == port


async def test_close_during_pending_read(h3: Client, h3_server: HypercornServer) -> None:
    async with h3.stream("GET", h3_server.url + "/stall?where=body") as resp:
        read = asyncio.ensure_future(resp.content.__anext__())
        await asyncio.sleep(0.05)
        assert resp._read_pending
        await resp.aclose()
        with pytest.raises(ReadError):
            await read


async def test_exiting_stream_unread_closes_request_body(
    h3: Client, h3_server: HypercornServer
) -> None:
    closed = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b"first"
            await asyncio.sleep(30)
            yield b"never"
        finally:
            closed.set()

    async with h3.stream("POST", h3_server.url + "/echo", content=body()) as resp:
        assert resp.status == 200
    await asyncio.wait_for(closed.wait(), 5)


async def test_closed_transport(make_transport: Any, h3_server: HypercornServer) -> None:
    t = make_transport(http_version=HTTPVersion.HTTP3)
    assert (await Client(t).get(h3_server.url + "/echo")).status == 200
    await t.aclose()
    with pytest.raises(RuntimeError, match="already closed transport"):
        await Client(t).get(h3_server.url + "/echo")


# --- timeouts -----------------------------------------------------------------------------


async def test_total_timeout(make_transport: Any, h3_server: HypercornServer) -> None:
    # the total timeout also bounds the first request's QUIC handshake: 0.3 s was not enough
    # for one on a loaded CI machine
    client = Client(make_transport(http_version=HTTPVersion.HTTP3, timeout=1.0))
    before = await client.get(h3_server.url + "/conn")
    with pytest.raises(TimeoutError):
        await client.get(h3_server.url + "/stall?where=headers")
    assert (await client.get(h3_server.url + "/conn")).content == before.content


async def test_read_timeout_on_body(make_transport: Any, h3_server: HypercornServer) -> None:
    client = Client(make_transport(http_version=HTTPVersion.HTTP3, read_timeout=0.3))
    async with client.stream("GET", h3_server.url + "/stall?where=body") as resp:
        assert resp.status == 200
        with pytest.raises(TimeoutError):
            await resp.content.__anext__()


async def test_connect_timeout_when_nothing_answers(make_transport: Any) -> None:
    import socket

    # a bound UDP socket that never reads: the QUIC handshake gets no answer
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        client = Client(make_transport(http_version=HTTPVersion.HTTP3, connect_timeout=0.3))
        with pytest.raises(ConnectTimeout):
            await client.get(f"https://127.0.0.1:{port}/")


async def test_closed_port_is_a_connection_error(make_transport: Any) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = Client(make_transport(http_version=HTTPVersion.HTTP3, connect_timeout=5))
    with pytest.raises(ConnectionError) as info:
        await client.get(f"https://127.0.0.1:{port}/")
    assert not isinstance(info.value, TimeoutError)


# --- TLS ----------------------------------------------------------------------------------


async def test_untrusted_certificate_is_a_connection_error(
    make_transport: Any, h3_server: HypercornServer
) -> None:
    import trustme

    other = trustme.CA().cert_pem.bytes()
    client = Client(make_transport(http_version=HTTPVersion.HTTP3, tls_ca_cert=other))
    with pytest.raises(ConnectionError) as info:
        await client.get(h3_server.url + "/echo")
    assert not isinstance(info.value, TimeoutError)


async def test_hostname_is_verified(make_transport: Any, h3_server: HypercornServer) -> None:
    # the certificate names 127.0.0.1, localhost and ::1, not 127.0.0.2
    client = Client(make_transport(http_version=HTTPVersion.HTTP3))
    assert (await client.get(h3_server.url_for("/echo", host="localhost"))).status == 200
    with pytest.raises(ConnectionError):
        await client.get(h3_server.url_for("/echo", host="127.0.0.2"))


async def test_http_urls_go_over_http1(make_transport: Any, http_server: HypercornServer) -> None:
    client = Client(make_transport(http_version=HTTPVersion.HTTP3))
    async with client.stream("GET", http_server.url + "/echo") as resp:
        assert resp.http_version == HTTPVersion.HTTP1


# --- the transport's response handling applies to HTTP/3 responses too ----------------------


async def test_decoding_over_h3(h3: Client, semantics_h3_server: HypercornServer) -> None:
    url = semantics_h3_server.url + "/encoded?codings=gzip,br&size=100000&pieces=5"
    assert (await h3.get(url)).content == payload(100000)
    async with h3.stream("GET", url) as resp:
        assert resp.http_version == HTTPVersion.HTTP3
        assert b"".join([bytes(c) async for c in resp.content]) == payload(100000)


async def test_redirects_over_h3(h3: Client, semantics_h3_server: HypercornServer) -> None:
    resp = await h3.post(
        semantics_h3_server.url + "/redirect?to=/request&status=307", content=b"payload"
    )
    info = resp.json()
    assert (info["method"], info["path"], info["body"]) == ("POST", "/request", "payload")
    async with h3.stream("GET", semantics_h3_server.url + "/redirect?to=/request") as streamed:
        assert streamed.http_version == HTTPVersion.HTTP3
        assert streamed.status == 200


async def test_cookies_over_h3(make_transport: Any, semantics_h3_server: HypercornServer) -> None:
    client = Client(make_transport(http_version=HTTPVersion.HTTP3, enable_cookie_store=True))
    await client.get(semantics_h3_server.url + "/set-cookie?c=flavour=oat")
    info = (await client.get(semantics_h3_server.url + "/request")).json()
    assert ["cookie", "flavour=oat"] in info["headers"]
