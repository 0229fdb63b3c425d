"""Error classification (spec 1.1): connect failures, timeouts, cancellation, request bodies."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator

import pytest
from servers.scripted import keep_alive

import pyqwest
from pyqwest import Client, ConnectTimeout, ReadError, RemoteProtocolError, WriteError

# A name whose 64-byte label no DNS query can carry: resolution fails on this machine, and no
# packet goes to a nameserver (tests never leave loopback).
UNRESOLVABLE_URL = "http://" + "a" * 64 + ".invalid/"


class TrackedBody:
    """Async iterator body recording pulls and aclose()."""

    def __init__(self, chunks=(b"a", b"b")) -> None:
        self.chunks = list(chunks)
        self.pulls = 0
        self.closed = False

    def __aiter__(self):
        return self

    async def __anext__(self) -> bytes:
        self.pulls += 1
        if not self.chunks:
            raise StopAsyncIteration
        return self.chunks.pop(0)

    async def aclose(self) -> None:
        self.closed = True


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port bound but not listening: connects are refused (RST)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    yield s.getsockname()[1]
    s.close()


@pytest.fixture
def blackhole_port() -> Iterator[int]:
    """A loopback listener with backlog 0 whose accept queue is filled by unaccepted
    connections, so further SYNs are dropped and connects hang (never accepted)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(8):
        c = socket.socket()
        c.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            c.connect(("127.0.0.1", port))
        fillers.append(c)
    time.sleep(0.1)
    probe = socket.socket()
    probe.settimeout(0.3)
    try:
        probe.connect(("127.0.0.1", port))
    except (TimeoutError, OSError):
        pass
    else:
        probe.close()
        listener.close()
        for c in fillers:
            c.close()
        pytest.skip("this kernel completes handshakes beyond a full backlog; no local blackhole")
    probe.close()
    yield port
    for c in fillers:
        c.close()
    listener.close()


# --- connecting ------------------------------------------------------------------------------


async def test_refused_port_connection_error(client, refused_port):
    with pytest.raises(ConnectionError) as info:
        await client.get(f"http://127.0.0.1:{refused_port}/")
    assert not isinstance(info.value, TimeoutError)


async def test_refused_port_stream_connection_error(client, refused_port):
    with pytest.raises(ConnectionError):
        async with client.stream("GET", f"http://127.0.0.1:{refused_port}/"):
            pass


async def test_dns_failure_connection_error(client):
    with pytest.raises(ConnectionError):
        await client.get(UNRESOLVABLE_URL)


async def test_dns_failure_system_dns(make_transport):
    client = Client(make_transport(use_system_dns=True))
    with pytest.raises(ConnectionError):
        await client.get(UNRESOLVABLE_URL)


async def test_connect_timeout(make_transport, blackhole_port):
    client = Client(make_transport(connect_timeout=0.2))
    with pytest.raises(ConnectTimeout) as info:
        await asyncio.wait_for(client.get(f"http://127.0.0.1:{blackhole_port}/"), 10)
    assert isinstance(info.value, ConnectionError)
    assert isinstance(info.value, TimeoutError)


async def test_connect_timeout_not_applied_to_slow_response(make_transport, http_server):
    client = Client(make_transport(connect_timeout=0.2))
    resp = await client.get(http_server.url + "/stall?where=headers&sleep=0.5")
    assert resp.status == 200


async def test_connection_failure_closes_body_without_pulling(client, refused_port):
    body = TrackedBody()
    with pytest.raises(ConnectionError):
        await client.post(f"http://127.0.0.1:{refused_port}/", content=body)
    assert body.pulls == 0
    assert body.closed


async def test_connection_failure_closes_generator_without_starting(client, refused_port):
    started = False

    async def gen():
        nonlocal started
        started = True
        yield b"x"

    g = gen()
    with pytest.raises(ConnectionError):
        await client.post(f"http://127.0.0.1:{refused_port}/", content=g)
    assert not started
    with pytest.raises(StopAsyncIteration):  # closed: a closed async generator is exhausted
        await g.__anext__()


# --- timeouts --------------------------------------------------------------------------------


async def test_total_timeout_stalled_body_buffered(make_transport, http_server):
    client = Client(make_transport(timeout=0.3))
    with pytest.raises(TimeoutError) as info:
        await client.get(http_server.url + "/stall")
    assert not isinstance(info.value, ConnectTimeout)


async def test_total_timeout_stalled_body_first_read(make_transport, http_server):
    client = Client(make_transport(timeout=1.0))
    async with client.stream("GET", http_server.url + "/stall") as resp:
        assert resp.status == 200
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(resp.content.__anext__(), 10)


async def test_total_timeout_covers_slow_body(make_transport, http_server):
    client = Client(make_transport(timeout=0.3))
    with pytest.raises(TimeoutError):
        await client.get(http_server.url + "/slow-body?chunks=20&delay=0.1")


async def test_total_timeout_not_hit(make_transport, http_server):
    client = Client(make_transport(timeout=10))
    resp = await client.get(http_server.url + "/slow-body?chunks=3&delay=0.01")
    assert resp.content == b"chunk0\nchunk1\nchunk2\n"


async def test_read_timeout_server_never_answers(make_transport, scripted):
    scripted.handler = lambda conn: conn.hang()
    client = Client(make_transport(read_timeout=0.2))
    with pytest.raises(TimeoutError) as info:
        await asyncio.wait_for(client.get(scripted.url + "/"), 10)
    assert not isinstance(info.value, ConnectTimeout)


async def test_read_timeout_per_read_not_total(make_transport, http_server):
    """Each chunk arrives within read_timeout although the whole body takes longer."""
    client = Client(make_transport(read_timeout=1.0))
    resp = await client.get(http_server.url + "/slow-body?chunks=4&delay=0.3")
    assert resp.content == b"".join(f"chunk{i}\n".encode() for i in range(4))


async def test_read_timeout_stalled_body(make_transport, http_server):
    client = Client(make_transport(read_timeout=0.2))
    async with client.stream("GET", http_server.url + "/stall") as resp:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(resp.content.__anext__(), 10)


async def test_asyncio_timeout_zero(client, http_server):
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0):
            await client.get(http_server.url + "/echo")
    resp = await client.get(http_server.url + "/echo")
    assert resp.status == 200


async def test_timeout_error_leaves_transport_usable(make_transport, http_server):
    client = Client(make_transport(timeout=0.3))
    with pytest.raises(TimeoutError):
        await client.get(http_server.url + "/stall")
    assert (await client.get(http_server.url + "/echo")).status == 200


# --- cancellation ----------------------------------------------------------------------------


async def test_wait_for_cancellation_closes_connection(client, scripted):
    async def handler(conn):
        if conn.index == 0:
            await conn.hang()
        else:
            await keep_alive(b"after")(conn)

    scripted.handler = handler
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.get(scripted.url + "/"), 0.2)
    # the server sees the cancelled request's connection closed by the client
    await scripted.wait_client_eof(scripted.connections[0], timeout=5)
    resp = await asyncio.wait_for(client.get(scripted.url + "/"), 10)
    assert resp.content == b"after"
    assert scripted.accepted == 2


async def test_cancel_mid_body_then_reuse_transport(client, http_server):
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.get(http_server.url + "/stall"), 0.3)
    resp = await asyncio.wait_for(client.get(http_server.url + "/bytes/1000"), 10)
    assert len(resp.content) == 1000


async def test_cancel_stream_read_then_reuse(client, http_server):
    async with client.stream("GET", http_server.url + "/stall") as resp:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(resp.content.__anext__(), 0.2)
    resp2 = await asyncio.wait_for(client.get(http_server.url + "/echo"), 10)
    assert resp2.status == 200


async def test_many_cancellations_do_not_poison_pool(client, http_server):
    for _ in range(10):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(client.get(http_server.url + "/conn?delay=1"), 0.05)
    ports = [
        int((await asyncio.wait_for(client.get(http_server.url + "/conn"), 10)).content)
        for _ in range(3)
    ]
    assert len(set(ports)) == 1


# --- request body failures -------------------------------------------------------------------


def _reads_whole_body_then_answers():
    """Answers only after the full request body: a failing body can only fail the write side."""

    async def handler(conn):
        req = await conn.read_request()
        if req is not None:
            await conn.send_response(200, b"got it")

    return handler


async def test_body_iterator_raises_write_error(client, scripted):
    scripted.handler = _reads_whole_body_then_answers()

    async def body():
        yield b"first"
        raise ValueError("boom-from-iterator")

    with pytest.raises(WriteError, match="Request failed") as info:
        await asyncio.wait_for(client.post(scripted.url + "/", content=body()), 10)
    assert "boom-from-iterator" in str(info.value)


async def test_body_iterator_yields_int_write_error(client, scripted):
    scripted.handler = _reads_whole_body_then_answers()

    async def body():
        yield b"first"
        yield 42

    with pytest.raises(WriteError, match="Request failed"):
        await asyncio.wait_for(client.post(scripted.url + "/", content=body()), 10)


async def test_body_iterator_error_full_duplex_echo(client, http_server):
    """With a server that already answered, the failure may surface on either side (spec 1.3)."""

    async def body():
        yield b"first"
        await asyncio.sleep(0.05)
        raise ValueError("boom-from-iterator")

    with pytest.raises((WriteError, ReadError)) as info:
        await asyncio.wait_for(client.post(http_server.url + "/echo", content=body()), 10)
    assert any(s in str(info.value) for s in ("Request", "connection", "reading content"))


async def test_body_iterator_error_does_not_poison_pool(client, http_server):
    async def body():
        yield b"first"
        raise ValueError("boom")

    with pytest.raises((WriteError, ReadError)):
        await asyncio.wait_for(client.post(http_server.url + "/echo", content=body()), 10)
    resp = await asyncio.wait_for(client.post(http_server.url + "/echo", content=b"ok"), 10)
    assert resp.content == b"ok"


async def test_body_iterator_closed_after_success(client, http_server):
    body = TrackedBody([b"x", b"y"])
    resp = await client.post(http_server.url + "/echo", content=body)
    assert resp.content == b"xy"
    assert body.closed


async def test_server_closes_while_uploading(client, scripted):
    """Server reads the head, then closes while a large body is being written."""

    async def handler(conn):
        await conn.read_request(body=False)
        conn.rst()

    scripted.handler = handler

    async def body():
        for _ in range(2000):
            yield b"x" * 65536

    with pytest.raises((WriteError, ReadError, RemoteProtocolError)):
        await asyncio.wait_for(client.post(scripted.url + "/", content=body()), 20)


async def test_early_response_before_body_consumed(client, scripted):
    """A server may answer (and close) before reading the request body; the response wins."""

    async def handler(conn):
        await conn.read_request(body=False)
        await conn.send_response(413, b"too big", close=True)
        await asyncio.sleep(0.2)

    scripted.handler = handler

    async def body():
        for _ in range(4):
            yield b"x" * 1024
            await asyncio.sleep(0.05)

    resp = await asyncio.wait_for(client.post(scripted.url + "/", content=body()), 10)
    assert resp.status == 413


def test_exception_hierarchy():
    assert issubclass(ConnectTimeout, ConnectionError)
    assert issubclass(ConnectTimeout, TimeoutError)
    assert issubclass(pyqwest.StreamError, RemoteProtocolError)
