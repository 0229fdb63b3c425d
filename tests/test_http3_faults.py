"""HTTP/3 fault cases: a raw aioquic server that resets streams, sends GOAWAY or closes the
connection (and sends trailers, which hypercorn's HTTP/3 does not); a lossy UDP relay in front
of hypercorn; a server that vanishes. Nothing may hang or leak."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from fds import HAVE_PROC, new_fds, open_fds
from servers import HypercornServer, LoopThread, payload
from servers.h3raw import H3RawServer, RawH3Conn
from servers.udp_relay import UdpRelay

from pyqwest import Client, HTTPVersion, RemoteProtocolError, StreamError, StreamErrorCode

MiB = 1 << 20
H3_INTERNAL_ERROR = 0x102
H3_REQUEST_REJECTED = 0x10B


@pytest.fixture
def raw_h3(
    server_loop: LoopThread, server_cert_files: dict[str, str]
) -> Iterator[Callable[..., H3RawServer]]:
    made: list[H3RawServer] = []

    def make(
        handler: Callable[[RawH3Conn, int, dict[str, str]], None], **options: Any
    ) -> H3RawServer:
        server = H3RawServer(
            server_loop, server_cert_files["certfile"], server_cert_files["keyfile"], handler,
            **options,
        ).start()
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()


@pytest.fixture
def relay(server_loop: LoopThread) -> Iterator[Callable[..., UdpRelay]]:
    made: list[UdpRelay] = []

    def make(port: int, drop: Any = None) -> UdpRelay:
        r = UdpRelay(server_loop, port, drop).start()
        made.append(r)
        return r

    yield make
    for r in made:
        r.stop()


@pytest.fixture
def h3(make_transport: Any) -> Client:
    return Client(make_transport(http_version=HTTPVersion.HTTP3))


def _url(port: int, path: str = "/") -> str:
    return f"https://127.0.0.1:{port}{path}"


# --- what only a raw server sends ----------------------------------------------------------


async def test_trailers_are_delivered(h3: Client, raw_h3: Callable[..., H3RawServer]) -> None:
    def handler(conn: RawH3Conn, sid: int, headers: dict[str, str]) -> None:
        conn.respond(sid, 200, b"body", trailers=[(b"x-checksum", b"abc")])

    server = raw_h3(handler)
    full = await h3.get(_url(server.port))
    assert (full.content, full.trailers) == (b"body", {"x-checksum": "abc"})
    async with h3.stream("GET", _url(server.port)) as resp:
        assert [bytes(c) async for c in resp.content] == [b"body"]
        assert resp.trailers == {"x-checksum": "abc"}


def answer_peer_subject(conn: RawH3Conn, sid: int, headers: dict[str, str]) -> None:
    """A handler answering with the subject of the client's certificate."""
    conn.respond(sid, 200, (conn.peer_subject or "none").encode())


CLIENT_SUBJECT = {"CN=someclient", "OU=tests", "O=curioswitch"}  # the test client certificate's


async def test_mtls_identity_is_presented(
    make_transport: Any,
    raw_h3: Callable[..., H3RawServer],
    client_cert_pem: bytes,
    client_key_pem: bytes,
) -> None:
    server = raw_h3(answer_peer_subject, request_client_cert=True)
    mtls = Client(make_transport(
        http_version=HTTPVersion.HTTP3, tls_cert=client_cert_pem, tls_key=client_key_pem
    ))
    subject = (await mtls.get(_url(server.port))).content.decode()
    assert set(subject.split(",")) == CLIENT_SUBJECT


# --- stream resets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("h3_code", "expected"),
    [
        (H3_INTERNAL_ERROR, StreamErrorCode.INTERNAL_ERROR),
        (0x10C, StreamErrorCode.CANCEL),  # H3_REQUEST_CANCELLED
        (0x107, StreamErrorCode.ENHANCE_YOUR_CALM),  # H3_EXCESSIVE_LOAD
        (0x21, StreamErrorCode.INTERNAL_ERROR),  # reserved (grease): unknown
    ],
)
async def test_reset_before_head_is_a_stream_error(
    h3: Client, raw_h3: Callable[..., H3RawServer], h3_code: int, expected: StreamErrorCode
) -> None:
    server = raw_h3(lambda conn, sid, headers: conn.reset(sid, h3_code))
    with pytest.raises(StreamError) as info:
        await h3.get(_url(server.port))
    assert info.value.code == expected


def head_then_reset(conn: RawH3Conn, sid: int, headers: dict[str, str]) -> None:
    conn.respond(sid, 200, b"partial", end=False)
    conn.reset(sid, H3_INTERNAL_ERROR)


def reject_the_first(conn: RawH3Conn, sid: int, headers: dict[str, str]) -> None:
    if conn.server.requests == 1:
        conn.reset(sid, H3_REQUEST_REJECTED)  # not processed: may go again
    else:
        conn.respond(sid, 200, b"second try")


def goaway_at_the_second() -> Callable[[RawH3Conn, int, dict[str, str]], None]:
    """A handler: the first connection answers its first request and sends GOAWAY naming
    its second (never processed); later connections answer."""
    got: list[int] = []

    def handler(conn: RawH3Conn, sid: int, headers: dict[str, str]) -> None:
        if conn.index > 0:
            conn.respond(sid, 200, f"conn {conn.index}".encode())
            return
        got.append(sid)
        if len(got) == 2:
            conn.respond(got[0], 200, b"conn 0")
            conn.goaway(got[1])

    return handler


def close_the_first(conn: RawH3Conn, sid: int, headers: dict[str, str]) -> None:
    if conn.index == 0:
        conn.close(H3_INTERNAL_ERROR, "going away")
    else:
        conn.respond(sid, 200, b"fresh connection")


async def test_reset_mid_body_is_a_stream_error(
    h3: Client, raw_h3: Callable[..., H3RawServer]
) -> None:
    server = raw_h3(head_then_reset)
    async with h3.stream("GET", _url(server.port)) as resp:
        assert resp.status == 200
        with pytest.raises(StreamError) as info:
            async for _ in resp.content:
                pass
    assert info.value.code == StreamErrorCode.INTERNAL_ERROR


async def test_rejected_request_is_retried_once(
    h3: Client, raw_h3: Callable[..., H3RawServer]
) -> None:
    server = raw_h3(reject_the_first)
    resp = await h3.get(_url(server.port))
    assert (resp.status, resp.content, server.requests) == (200, b"second try", 2)


# --- framing the server gets wrong ---------------------------------------------------------

HEAD_200 = b"\x01\x03\x00\x00\xd9"  # HEADERS: :status 200 (QPACK static entry 25)


def data_before_head_once(conn: RawH3Conn, sid: int, headers: dict[str, str]) -> None:
    """Connection 0 answers with a DATA frame first (a connection error), later ones well."""
    if conn.index == 0:
        conn.raw(sid, b"\x00\x02hi")
    else:
        conn.respond(sid, 200, b"fresh connection")


async def test_data_before_the_head_closes_the_connection(
    h3: Client, raw_h3: Callable[..., H3RawServer]
) -> None:
    server = raw_h3(data_before_head_once)
    with pytest.raises(RemoteProtocolError, match="HTTP/3 protocol error by the server"):
        await h3.get(_url(server.port))
    assert (await h3.get(_url(server.port))).content == b"fresh connection"
    assert server.connections == 2


def no_head_then_good(conn: RawH3Conn, sid: int, headers: dict[str, str]) -> None:
    """The first request's stream ends with no head (malformed), the next is answered."""
    if sid == 0:
        conn.raw(sid, b"")
    else:
        conn.raw(sid, HEAD_200 + b"\x00\x02ok")


async def test_a_response_without_head_fails_only_its_request(
    h3: Client, raw_h3: Callable[..., H3RawServer]
) -> None:
    server = raw_h3(no_head_then_good)
    with pytest.raises(RemoteProtocolError, match="ended before its head"):
        await h3.get(_url(server.port))
    assert (await h3.get(_url(server.port))).content == b"ok"
    assert server.connections == 1


# --- GOAWAY and CONNECTION_CLOSE -----------------------------------------------------------


async def test_requests_above_goaway_go_to_a_new_connection(
    h3: Client, raw_h3: Callable[..., H3RawServer]
) -> None:
    server = raw_h3(goaway_at_the_second())
    results = await asyncio.gather(h3.get(_url(server.port)), h3.get(_url(server.port)))
    assert sorted(r.content for r in results) == [b"conn 0", b"conn 1"]
    assert server.connections == 2


async def test_connection_close_retries_replayable_requests_once(
    h3: Client, raw_h3: Callable[..., H3RawServer]
) -> None:
    server = raw_h3(close_the_first)
    assert (await h3.get(_url(server.port))).content == b"fresh connection"
    assert server.connections == 2


async def test_connection_close_fails_a_streamed_upload(
    h3: Client, raw_h3: Callable[..., H3RawServer]
) -> None:
    server = raw_h3(lambda conn, sid, headers: conn.close(H3_INTERNAL_ERROR, "going away"))

    async def body() -> AsyncIterator[bytes]:
        yield b"not replayable"

    with pytest.raises(RemoteProtocolError, match="going away"):
        await h3.post(_url(server.port), content=body())
    assert server.connections == 1


# --- loss, silence ------------------------------------------------------------------------


async def test_lossy_path_delivers_everything(
    h3: Client, h3_server: HypercornServer, relay: Callable[..., UdpRelay]
) -> None:
    # every 10th datagram lost each way (after the first flight, so the handshake completes
    # quickly): QUIC retransmits, nothing is lost or reordered for the application
    lossy = relay(h3_server.port, lambda direction, n: n > 3 and n % 10 == 0)
    port = lossy.port
    size = 256 << 10
    data = payload(size, offset=5)
    assert (await h3.get(_url(port, f"/bytes/{size}"))).content == payload(size)
    assert (await h3.post(_url(port, "/echo"), content=data)).content == data
    results = await asyncio.gather(*[h3.get(_url(port, "/conn")) for _ in range(20)])
    assert all(r.status == 200 for r in results)
    assert lossy.dropped["up"] > 0 and lossy.dropped["down"] > 0


@pytest.mark.parametrize(
    "options",
    [
        {"read_timeout": 0.5},
        # no timeout, no read_timeout: QUIC's idle timeout (pool_idle_timeout) ends the wait
        {"pool_idle_timeout": 1.0},
    ],
    ids=["read_timeout", "quic_idle"],
)
async def test_vanished_server_is_a_timeout(
    make_transport: Any,
    h3_server: HypercornServer,
    relay: Callable[..., UdpRelay],
    options: dict[str, float],
) -> None:
    path = relay(h3_server.port)
    client = Client(make_transport(http_version=HTTPVersion.HTTP3, **options))
    assert (await client.get(_url(path.port, "/echo"))).status == 200
    path.vanish()
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        await client.get(_url(path.port, "/echo"))
    assert time.monotonic() - start < 15  # does not hang


# --- nothing leaks --------------------------------------------------------------------------


@pytest.mark.skipif(not HAVE_PROC, reason="needs /proc")
async def test_no_fds_or_tasks_left(
    make_transport: Any, h3_server: HypercornServer, raw_h3: Callable[..., H3RawServer]
) -> None:
    resetting = raw_h3(lambda conn, sid, headers: conn.reset(sid, H3_INTERNAL_ERROR))
    await asyncio.sleep(0.1)
    before = open_fds()
    tasks_before = asyncio.all_tasks()
    transport = make_transport(http_version=HTTPVersion.HTTP3)
    client = Client(transport)

    async def body() -> AsyncIterator[bytes]:
        yield b"x" * 100_000

    for _ in range(3):
        await asyncio.gather(*[client.get(h3_server.url + "/echo") for _ in range(10)])
        await client.post(h3_server.url + "/echo", content=body())
        async with client.stream("GET", h3_server.url + f"/bytes/{MiB}") as resp:
            await resp.content.__anext__()
        with pytest.raises(StreamError):
            await client.get(_url(resetting.port))
    await transport.aclose()
    await asyncio.sleep(0.2)
    assert new_fds(before) == set()
    assert asyncio.all_tasks() == tasks_before
