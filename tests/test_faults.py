"""Fault injection: a raw loopback server misbehaves on purpose, one way per case.

Every case asserts the exact typed error of spec §1.1 (class and message) or the correct
result, then that the pool holds no broken connection (`idle_count()` of the transport's pool
for the running loop) and that a follow-up request succeeds on a fresh connection (or, where
the exchange was correct and keep-alive, on the same one).

Server side: ``servers.scripted`` (one handler per connection, ``per_connection``); the first
connection misbehaves, later ones answer ``200 fresh``.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import re
import ssl
from typing import Any

import pytest
from servers.scripted import Conn, canned, keep_alive, per_connection, trickle
from servers.tls_certs import trustme

from pyqwest import Client, ConnectTimeout, ReadError, RemoteProtocolError, WriteError

OK_HEAD = b"HTTP/1.1 200 OK\r\n"
FRESH = keep_alive(b"fresh")


def idle(transport: Any) -> int:
    return transport._h1.current_pool().idle_count()


async def assert_recovers(client: Client, transport: Any, scripted: Any, *, fresh: bool = True):
    """No connection is left in the pool and the next request works (on a new connection
    when ``fresh``)."""
    before = scripted.accepted
    # a broken connection is never pooled; a healthy keep-alive one is
    assert idle(transport) == (0 if fresh else 1)
    resp = await asyncio.wait_for(client.get(scripted.url + "/next"), 10)
    assert resp.status == 200
    assert resp.content == b"fresh"
    assert scripted.accepted == (before + 1 if fresh else before)


async def fetch(client: Client, url: str, mode: str) -> tuple[int, bytes]:
    """One GET, buffered (``client.get``) or streamed (``client.stream``)."""
    if mode == "buffered":
        resp = await client.get(url)
        return resp.status, resp.content
    async with client.stream("GET", url) as sresp:
        body = b"".join([bytes(c) async for c in sresp.content])
        return sresp.status, body


def exact(exc: BaseException, cls: type[BaseException], pattern: str) -> None:
    assert type(exc) is cls, f"{type(exc).__name__}: {exc}"
    assert re.search(pattern, str(exc)), str(exc)


# --------------------------------------------------------------------------------------------
# response head: broken, truncated, oversized, smuggling shapes
# --------------------------------------------------------------------------------------------

BIG = 70_000  # over the 64 KiB line limit
HEAD_CUT = r"closed before the response head was complete"

HEAD_FAULTS = {
    # clean close (FIN) before or inside the head
    "eof-before-any-byte": (b"", "close", r"connection closed before any response$"),
    "eof-mid-status-line": (b"HTTP/1.1 20", "close", HEAD_CUT),
    "eof-mid-headers": (OK_HEAD + b"Content-Le", "close", HEAD_CUT),
    "eof-before-blank-line": (OK_HEAD + b"Content-Length: 2\r\n", "close", HEAD_CUT),
    # broken start line
    "invalid-status-line": (b"HTTP/1.1 boom\r\n\r\n", "hang", r"Invalid status code"),
    "two-digit-status": (b"HTTP/1.1 20 OK\r\n\r\n", "hang", r"Invalid status code"),
    "four-digit-status": (b"HTTP/1.1 2000 OK\r\n\r\n", "hang", r"Invalid response status"),
    "garbage": (b"garbage\r\n\r\n", "hang", r"Expected HTTP/"),
    "bad-version": (b"HTTP/2.5 200 OK\r\n\r\n", "hang", r"Invalid HTTP version"),
    "lowercase-protocol": (b"http/1.1 200 OK\r\n\r\n", "hang", r"Expected HTTP/"),
    "switching-protocols": (b"HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\n\r\n", "hang",
                            r"101 Switching Protocols: upgrades are not supported"),
    # broken header lines
    "header-without-colon": (OK_HEAD + b"Xyz\r\ncontent-length: 0\r\n\r\n", "hang",
                             r"Invalid header token"),
    "empty-header-name": (OK_HEAD + b": v\r\ncontent-length: 0\r\n\r\n", "hang",
                          r"Invalid header token"),
    "space-in-header-name": (OK_HEAD + b"X Y: v\r\ncontent-length: 0\r\n\r\n", "hang",
                             r"Invalid header token"),
    "nul-in-header-value": (OK_HEAD + b"x: a\x00b\r\ncontent-length: 0\r\n\r\n", "hang",
                            r"invalid character '\\x00' in a header value"),
    "nul-in-header-name": (OK_HEAD + b"x\x00y: ab\r\ncontent-length: 0\r\n\r\n", "hang",
                           r"Invalid header token"),
    "del-in-header-value": (OK_HEAD + b"x: a\x7fb\r\ncontent-length: 0\r\n\r\n", "hang",
                            r"invalid character '\\x7f' in a header value"),
    "bare-cr-in-header-value": (OK_HEAD + b"x: a\rb: c\r\ncontent-length: 0\r\n\r\n", "hang",
                                r"bare CR in the response head$"),
    "bare-cr-line-end": (OK_HEAD + b"x: a\r\rcontent-length: 0\r\n\r\n", "hang",
                         r"bare CR in the response head$"),
    # lenient mode (kept for obs-fold) must not let a bare CR end a line or the head
    "bare-cr-after-empty-value": (
        OK_HEAD + b"x:\rtransfer-encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n", "hang",
        r"bare CR in the response head$"),
    "bare-cr-ends-head": (OK_HEAD + b"x:\r\r\ncontent-length: 2\r\n\r\nab", "hang",
                          r"bare CR in the response head$"),
    "bare-cr-in-status-line": (b"HTTP/1.1 200 O\rK\r\ncontent-length: 0\r\n\r\n", "hang",
                               r"bare CR in the response head$"),
    # status codes below 100 are no informational responses (RFC 9110 §15)
    "status-099": (b"HTTP/1.1 099 X\r\ncontent-length: 2\r\n\r\nab" + OK_HEAD
                   + b"content-length: 2\r\n\r\ncd", "hang", r"invalid status code 099$"),
    "status-000": (b"HTTP/1.1 000 X\r\n\r\n" + OK_HEAD + b"content-length: 2\r\n\r\ncd",
                   "hang", r"invalid status code 000$"),
    # a 1xx has no content: bytes after its head are the next head, not a body
    "informational-with-content": (
        b"HTTP/1.1 150 X\r\ncontent-length: 2\r\n\r\nab" + OK_HEAD
        + b"content-length: 2\r\n\r\ncd", "hang", r"Expected HTTP/"),
    # smuggling shapes: framing must be unambiguous
    "duplicate-differing-content-length": (
        OK_HEAD + b"content-length: 1\r\ncontent-length: 2\r\n\r\nab", "hang",
        r"Duplicate Content-Length"),
    "content-length-list": (OK_HEAD + b"content-length: 2, 3\r\n\r\nab", "hang",
                            r"Invalid character in Content-Length"),
    "negative-content-length": (OK_HEAD + b"content-length: -1\r\n\r\n", "hang",
                                r"Invalid character in Content-Length"),
    "content-length-overflow": (OK_HEAD + b"content-length: 99999999999999999999999\r\n\r\n",
                                "hang", r"Content-Length overflow"),
    "transfer-encoding-then-content-length": (
        OK_HEAD + b"transfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n2\r\nab\r\n0\r\n\r\n",
        "hang", r"Content-Length can't be present with Transfer-Encoding"),
    "content-length-then-transfer-encoding": (
        OK_HEAD + b"content-length: 3\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
        "hang", r"Transfer-Encoding can't be present with Content-Length"),
    "whitespace-before-colon": (OK_HEAD + b"content-length : 2\r\n\r\nab", "hang",
                                r"whitespace"),
    "whitespace-before-first-header": (
        OK_HEAD + b" transfer-encoding: chunked\r\ncontent-length: 2\r\n\r\nab", "hang",
        r"whitespace"),
    "whitespace-only-line-after-status-line": (
        OK_HEAD + b" \r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n", "hang",
        r"whitespace before a header field name$"),
    "obs-fold-in-content-length": (OK_HEAD + b"content-length:\r\n 2\r\n\r\nabcd", "hang",
                                   r"obs-fold in a Content-Length or Transfer-Encoding field$"),
    "obs-fold-after-chunked": (
        OK_HEAD + b"transfer-encoding: chunked\r\n \r\n\r\n2\r\nab\r\n0\r\n\r\n", "hang",
        r"obs-fold in a Content-Length or Transfer-Encoding field$"),
    "obs-fold-hides-chunked": (
        OK_HEAD + b"transfer-encoding: gzip,\r\n chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n", "hang",
        r"Transfer-Encoding"),
    # limits (spec §0): the error names the limit, and comes without waiting for the peer
    "oversized-status-line": (b"HTTP/1.1 200 " + b"x" * BIG + b"\r\n\r\n", "hang",
                              r"status line longer than 65536 bytes"),
    "oversized-header-line": (OK_HEAD + b"x: " + b"v" * BIG + b"\r\n\r\n", "hang",
                              r"header line longer than 65536 bytes"),
    "oversized-header-name": (OK_HEAD + b"x" * BIG + b": v\r\n\r\n", "hang",
                              r"header line longer than 65536 bytes"),
    "oversized-header-block": (
        OK_HEAD + b"".join(b"x-%d: %s\r\n" % (i, b"v" * 4000) for i in range(80)) + b"\r\n",
        "hang", r"response head larger than 262144 bytes"),
    "too-many-header-fields": (
        OK_HEAD + b"".join(b"x-%d: v\r\n" % i for i in range(101)) + b"\r\n", "hang",
        r"more than 100 header fields"),
    "too-many-trailer-fields": (
        OK_HEAD + b"transfer-encoding: chunked\r\n\r\n0\r\n"
        + b"".join(b"t-%d: v\r\n" % i for i in range(101)) + b"\r\n", "hang",
        r"more than 100 header fields"),
}


@pytest.mark.parametrize("mode", ["buffered", "stream"])
@pytest.mark.parametrize("case", list(HEAD_FAULTS))
async def test_broken_head(client, transport, scripted, case, mode):
    data, then, pattern = HEAD_FAULTS[case]
    scripted.handler = per_connection(canned(data, then), FRESH)
    with pytest.raises(RemoteProtocolError) as info:
        await asyncio.wait_for(fetch(client, scripted.url + "/", mode), 10)
    if case == "too-many-trailer-fields":
        # the head was fine: the failure belongs to the body
        prefix = "Error reading full content: " if mode == "buffered" else "Error reading content: "
        exact(info.value, RemoteProtocolError, "^" + prefix + pattern)
    else:
        exact(info.value, RemoteProtocolError, r"^Request failed: .*" + pattern)
    await assert_recovers(client, transport, scripted)


async def test_limits_are_not_off_by_one(client, transport, scripted):
    """Exactly 100 fields, a 60 KiB line and a head just under 256 KiB are all accepted."""
    heads = [
        OK_HEAD + b"".join(b"x-%d: v\r\n" % i for i in range(99)) + b"content-length: 2\r\n\r\nok",
        OK_HEAD + b"x: " + b"v" * 60_000 + b"\r\ncontent-length: 2\r\n\r\nok",
        OK_HEAD + b"".join(b"x-%d: %s\r\n" % (i, b"v" * 2500) for i in range(99))
        + b"content-length: 2\r\n\r\nok",
    ]
    assert len(heads[2]) < 262144

    async def handler(conn: Conn) -> None:
        for head in heads:
            if await conn.read_request() is None:
                return
            await conn.send(head)
        await FRESH(conn)

    scripted.handler = handler
    fields = [100, 2, 100]
    for n in fields:
        resp = await client.get(scripted.url + "/")
        assert resp.content == b"ok"
        assert len(resp.headers) == n
    await assert_recovers(client, transport, scripted, fresh=False)


# --------------------------------------------------------------------------------------------
# response body: truncated, badly framed
# --------------------------------------------------------------------------------------------

CHUNKED_HEAD = OK_HEAD + b"transfer-encoding: chunked\r\n\r\n"

BODY_FAULTS = {
    "eof-mid-body": (OK_HEAD + b"content-length: 10\r\n\r\nabc", "close",
                     r"connection closed before the response was complete"),
    "eof-mid-chunk": (CHUNKED_HEAD + b"5\r\nab", "close",
                      r"connection closed before the response was complete"),
    "eof-in-chunk-size": (CHUNKED_HEAD + b"2\r\nab\r\n1", "close",
                          r"connection closed before the response was complete"),
    "missing-final-chunk": (CHUNKED_HEAD + b"2\r\nab\r\n", "close",
                            r"connection closed before the response was complete"),
    "eof-in-trailers": (CHUNKED_HEAD + b"2\r\nab\r\n0\r\nx-t: 1\r\n", "close",
                        r"connection closed before the response was complete"),
    "bad-chunk-size": (CHUNKED_HEAD + b"2\r\nab\r\nzz\r\nab\r\n0\r\n\r\n", "hang",
                       r"Invalid character in chunk size"),
    "negative-chunk-size": (CHUNKED_HEAD + b"-2\r\nab\r\n0\r\n\r\n", "hang",
                            r"Invalid character in chunk size"),
    "chunk-size-overflow": (CHUNKED_HEAD + b"fffffffffffffffff\r\nab\r\n0\r\n\r\n", "hang",
                            r"Chunk size overflow"),
    "chunk-longer-than-size": (CHUNKED_HEAD + b"2\r\nabc\r\n0\r\n\r\n", "hang",
                               r"Expected LF after chunk data"),
    "chunk-size-bare-lf": (CHUNKED_HEAD + b"2\nab\r\n0\r\n\r\n", "hang",
                           r"Missing expected CR after chunk size"),
    "nul-in-trailer": (CHUNKED_HEAD + b"0\r\nx-t: a\x00\r\n\r\n", "hang",
                       r"invalid character '\\x00' in a header value"),
}


@pytest.mark.parametrize("mode", ["buffered", "stream"])
@pytest.mark.parametrize("case", list(BODY_FAULTS))
async def test_broken_body(client, transport, scripted, case, mode):
    data, then, pattern = BODY_FAULTS[case]
    scripted.handler = per_connection(canned(data, then), FRESH)
    with pytest.raises(RemoteProtocolError) as info:
        await asyncio.wait_for(fetch(client, scripted.url + "/", mode), 10)
    prefix = "Error reading full content: " if mode == "buffered" else "Error reading content: "
    exact(info.value, RemoteProtocolError, "^" + prefix + ".*" + pattern)
    await assert_recovers(client, transport, scripted)


async def test_stream_yields_body_before_the_failure(client, transport, scripted):
    """What arrived before the framing broke is delivered, then the typed error."""
    scripted.handler = per_connection(
        canned(CHUNKED_HEAD + b"5\r\nhello\r\n3\r\nab", "close"), FRESH
    )
    got = b""
    async with client.stream("GET", scripted.url + "/") as resp:
        assert resp.status == 200
        with pytest.raises(RemoteProtocolError, match=r"^Error reading content: "):
            async for chunk in resp.content:
                got += chunk
    assert got.startswith(b"hello")
    await assert_recovers(client, transport, scripted)


# --------------------------------------------------------------------------------------------
# resets (RST)
# --------------------------------------------------------------------------------------------


async def test_reset_before_headers(client, transport, scripted):
    scripted.handler = per_connection(canned(b"", "rst"), FRESH)
    with pytest.raises(ReadError) as info:
        await client.get(scripted.url + "/")
    exact(info.value, ReadError, r"^Request failed: .*(reset|Connection)")
    await assert_recovers(client, transport, scripted)


async def test_reset_during_headers(client, transport, scripted):
    scripted.handler = per_connection(canned(OK_HEAD + b"content-type: te", "rst"), FRESH)
    with pytest.raises(ReadError) as info:
        await client.get(scripted.url + "/")
    exact(info.value, ReadError, r"^Request failed: .*(reset|Connection)")
    await assert_recovers(client, transport, scripted)


@pytest.mark.parametrize("mode", ["buffered", "stream"])
async def test_reset_during_body(client, transport, scripted, mode):
    scripted.handler = per_connection(
        canned(OK_HEAD + b"content-length: 100\r\n\r\nabc", "rst"), FRESH
    )
    with pytest.raises(ReadError) as info:
        await fetch(client, scripted.url + "/", mode)
    prefix = "Error reading full content: " if mode == "buffered" else "Error reading content: "
    exact(info.value, ReadError, "^" + prefix + ".*(reset|Connection)")
    await assert_recovers(client, transport, scripted)


async def test_reset_while_uploading(client, transport, scripted):
    """The server resets while a large body is still being written: a WriteError."""

    async def handler(conn: Conn) -> None:
        await conn.read_request(body=False)
        await conn.reader.readexactly(65536)
        conn.rst()

    scripted.handler = per_connection(handler, FRESH)

    async def body():
        for _ in range(2000):
            yield b"x" * 65536

    with pytest.raises(WriteError) as info:
        await asyncio.wait_for(client.post(scripted.url + "/", content=body()), 20)
    exact(info.value, WriteError, r"^Request failed: ")
    await assert_recovers(client, transport, scripted)


class CountingBody:
    """A streamed request body (an async iterator, not a generator) that counts `aclose`."""

    def __init__(self, chunks: int) -> None:
        self.left = chunks
        self.closes = 0

    def __aiter__(self) -> CountingBody:
        return self

    async def __anext__(self) -> bytes:
        if not self.left:
            raise StopAsyncIteration
        self.left -= 1
        await asyncio.sleep(0.005)
        return b"x" * 1024

    async def aclose(self) -> None:
        self.closes += 1


async def test_streamed_body_closed_once_when_the_exchange_fails_mid_upload(client, scripted):
    # the server drops the connection while the body is being pumped: the pump and the
    # transport both let go of the body, and it is closed exactly once
    async def handler(conn: Conn) -> None:
        await conn.read_request(body=False)
        await conn.reader.readexactly(2048)
        conn.rst()

    scripted.handler = handler
    body = CountingBody(1000)
    with pytest.raises((WriteError, ReadError, ConnectionError)):
        await asyncio.wait_for(client.post(scripted.url + "/", content=body), 20)
    await asyncio.sleep(0.1)  # the pump's own cleanup
    assert body.closes == 1


# --------------------------------------------------------------------------------------------
# correct results from unusual but valid responses
# --------------------------------------------------------------------------------------------


def first_request(data: bytes, then: str = "keep") -> Any:
    """The first request on the first connection gets ``data``; then ``then``: ``keep``
    serves later requests on the same connection with ``200 fresh``, ``close`` closes."""

    async def handler(conn: Conn) -> None:
        if await conn.read_request() is None:
            return
        await conn.send(data)
        if then == "keep":
            await FRESH(conn)
        else:
            await conn.close()

    return per_connection(handler, FRESH)


@pytest.mark.parametrize("mode", ["buffered", "stream"])
async def test_obs_fold_is_unfolded(client, transport, scripted, mode):
    """Spec §0: obs-fold in a response is unfolded (RFC 9112 §5.2), not an error."""
    scripted.handler = first_request(
        OK_HEAD + b"x-folded: a\r\n  b\r\n\tc\r\ncontent-length: 2\r\n\r\nok"
    )
    if mode == "buffered":
        resp = await client.get(scripted.url + "/")
        headers, body = resp.headers, resp.content
    else:
        async with client.stream("GET", scripted.url + "/") as sresp:
            headers, body = sresp.headers, b"".join([c async for c in sresp.content])
    assert body == b"ok"
    assert " ".join(headers["x-folded"].split()) == "a b c"
    assert "\r" not in headers["x-folded"] and "\n" not in headers["x-folded"]
    await assert_recovers(client, transport, scripted, fresh=False)


async def test_informational_responses_before_the_final_one(client, transport, scripted):
    scripted.handler = first_request(
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 102 Processing\r\n\r\n"
        + OK_HEAD + b"content-length: 5\r\nx-final: yes\r\n\r\nfinal"
    )
    resp = await client.get(scripted.url + "/")
    assert (resp.status, resp.content) == (200, b"final")
    assert resp.headers["x-final"] == "yes"
    assert "link" not in resp.headers
    await assert_recovers(client, transport, scripted, fresh=False)


async def test_informational_response_then_eof(client, transport, scripted):
    scripted.handler = per_connection(canned(b"HTTP/1.1 100 Continue\r\n\r\n", "close"), FRESH)
    with pytest.raises(RemoteProtocolError) as info:
        await client.get(scripted.url + "/")
    exact(info.value, RemoteProtocolError, r"^Request failed: .*closed before")
    await assert_recovers(client, transport, scripted)


@pytest.mark.parametrize("mode", ["buffered", "stream"])
async def test_http10_close_delimited_body(client, transport, scripted, mode):
    body = b"0123456789" * 10_000
    scripted.handler = first_request(b"HTTP/1.0 200 OK\r\nx: y\r\n\r\n" + body, "close")
    assert await fetch(client, scripted.url + "/", mode) == (200, body)
    await assert_recovers(client, transport, scripted)


async def test_http11_close_delimited_body(client, transport, scripted):
    scripted.handler = first_request(OK_HEAD + b"connection: close\r\n\r\nuntil eof", "close")
    assert await fetch(client, scripted.url + "/", "stream") == (200, b"until eof")
    await assert_recovers(client, transport, scripted)


async def test_http10_keep_alive_with_length_is_reused(client, transport, scripted):
    scripted.handler = first_request(
        b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 2\r\n\r\nok"
    )
    assert await fetch(client, scripted.url + "/", "buffered") == (200, b"ok")
    await assert_recovers(client, transport, scripted, fresh=False)


async def test_content_length_shorter_than_body(client, transport, scripted):
    """Bytes beyond Content-Length belong to no request: the body stops at the length and
    the connection is not reused (its next response could be the leftover)."""
    scripted.handler = first_request(OK_HEAD + b"content-length: 2\r\n\r\nokEXTRA", "keep")
    assert await fetch(client, scripted.url + "/", "buffered") == (200, b"ok")
    await asyncio.sleep(0.05)
    await assert_recovers(client, transport, scripted)


async def test_content_length_longer_than_body_read_timeout(make_transport, scripted):
    transport = make_transport(read_timeout=0.3)
    client = Client(transport)
    scripted.handler = per_connection(
        canned(OK_HEAD + b"content-length: 10\r\n\r\nabc", "hang"), FRESH
    )
    async with client.stream("GET", scripted.url + "/") as resp:
        assert await resp.content.__anext__() == b"abc"
        with pytest.raises(TimeoutError) as info:
            await asyncio.wait_for(resp.content.__anext__(), 10)
    exact(info.value, TimeoutError, r"^Error reading content: read timed out$")
    await assert_recovers(client, transport, scripted)


@pytest.mark.parametrize("length", [50, 100_000])  # 100_000: over the direct-read minimum
@pytest.mark.parametrize("mode", ["buffered", "stream"])
@pytest.mark.parametrize(
    ("status", "method"), [(204, "GET"), (304, "GET"), (200, "HEAD")]
)
async def test_no_body_whatever_the_headers_say(
    client, transport, scripted, status, method, mode, length
):
    """RFC 9110 §6.4.1: no content, and never bytes the server did not send (a body buffer
    sized from the Content-Length must not reach the caller)."""
    scripted.handler = first_request(
        b"HTTP/1.1 %d X\r\ncontent-length: %d\r\n\r\n" % (status, length)
    )
    if mode == "buffered":
        resp = await client.execute(method, scripted.url + "/")
        got = (resp.status, resp.content)
    else:
        async with client.stream(method, scripted.url + "/") as sresp:
            got = (sresp.status, b"".join([bytes(c) async for c in sresp.content]))
    assert got == (status, b"")
    await assert_recovers(client, transport, scripted, fresh=False)


STRAY = OK_HEAD + b"content-length: 6\r\n\r\npoison"
DIRECT_BODY = bytes(range(256)) * 400  # 102400 bytes: read straight into the body (buffered)


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
@pytest.mark.parametrize("mode", ["buffered", "stream"])
@pytest.mark.parametrize("body", [b"ok", DIRECT_BODY], ids=["small", "large"])
async def test_bytes_after_the_response_are_never_the_next_response(
    client, transport, scripted_factory, server_ssl_context, tls, mode, body
):
    """A response followed by bytes nobody asked for: the connection is closed, never pooled,
    so the next request cannot read them as its response (response-queue poisoning)."""


    async def handler(conn: Conn) -> None:
        if await conn.read_request() is None:
            return
        # the head first: the client then reads the rest of a large body straight into it
        await conn.send(OK_HEAD + b"content-length: %d\r\n\r\n" % len(body) + body[:1])
        await asyncio.sleep(0.05)
        await conn.send(body[1:] + STRAY)
        await FRESH(conn)

    server = scripted_factory(
        per_connection(handler, FRESH), ssl_context=server_ssl_context() if tls else None
    )
    assert await fetch(client, server.url + "/", mode) == (200, body)
    # at once, in the same task: no loop iteration for the stray bytes to show up first
    second = await client.get(server.url + "/next")
    assert second.content == b"fresh"
    assert server.accepted == 2


async def test_http10_transfer_encoding_closes_the_connection(client, transport, scripted):
    """RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing: the body
    is read, then the connection closed, even when it asks for keep-alive."""
    scripted.handler = first_request(
        b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ntransfer-encoding: chunked\r\n\r\n"
        b"2\r\nok\r\n0\r\n\r\n"
    )
    assert await fetch(client, scripted.url + "/", "buffered") == (200, b"ok")
    await assert_recovers(client, transport, scripted)


async def test_chunked_with_extensions_and_trailers(client, transport, scripted):
    scripted.handler = first_request(
        CHUNKED_HEAD + b"2;ext=1\r\nab\r\n3\r\ncde\r\n0\r\nx-sum: 5\r\n\r\n"
    )
    resp = await client.get(scripted.url + "/")
    assert resp.content == b"abcde"
    assert resp.trailers["x-sum"] == "5"
    await assert_recovers(client, transport, scripted, fresh=False)


async def test_final_coding_not_chunked_reads_until_close(client, transport, scripted):
    """RFC 9112 §6.3: a response whose last transfer coding is not chunked is
    close-delimited; the connection cannot be reused."""
    scripted.handler = first_request(
        OK_HEAD + b"transfer-encoding: chunked\r\ntransfer-encoding: identity\r\n\r\n2\r\nab",
        "close",
    )
    resp = await client.get(scripted.url + "/")
    assert resp.content == b"2\r\nab"
    await assert_recovers(client, transport, scripted)


# --------------------------------------------------------------------------------------------
# a response before the request body is finished
# --------------------------------------------------------------------------------------------


def early_answer(read_some: int, *, says_close: bool = True) -> Any:
    """413 before the body is read, then the socket closes (`says_close`: with
    `Connection: close`; else the head claims keep-alive)."""
    async def handler(conn: Conn) -> None:
        await conn.read_request(body=False)
        if read_some:
            await conn.reader.readexactly(read_some)
        await conn.send_response(413, b"too big", close=says_close)
        await conn.close()

    return per_connection(handler, FRESH)


@pytest.mark.parametrize("body_kind", ["bytes", "stream"])
async def test_response_before_request_body_finished(client, transport, scripted, body_kind):
    """The server answers 413 and closes without reading the (large) body: the client
    returns the response rather than the write failure, and does not pool the connection."""
    scripted.handler = early_answer(1024)
    if body_kind == "bytes":
        content: Any = b"x" * (32 << 20)
    else:
        async def gen():
            for _ in range(512):
                yield b"x" * 65536

        content = gen()
    resp = await asyncio.wait_for(client.post(scripted.url + "/", content=content), 20)
    assert (resp.status, resp.content) == (413, b"too big")
    await assert_recovers(client, transport, scripted)


async def test_early_response_claiming_keep_alive_is_not_pooled(client, transport, scripted):
    """The 413's head says keep-alive, but our write met the peer's reset: the connection is
    closed with the response, never put back in the pool."""
    scripted.handler = early_answer(1024, says_close=False)
    resp = await asyncio.wait_for(
        client.post(scripted.url + "/", content=b"x" * (32 << 20)), 20)
    assert (resp.status, resp.content) == (413, b"too big")
    assert sum(s.idle for s in transport.pool_stats()) == 0
    await assert_recovers(client, transport, scripted)


async def test_response_before_request_body_finished_stream(client, transport, scripted):
    """Streaming: the early response is readable while the upload is cut short."""
    scripted.handler = early_answer(0)

    async def gen():
        for _ in range(512):
            yield b"x" * 65536
            await asyncio.sleep(0)

    async with client.stream("POST", scripted.url + "/", content=gen()) as resp:
        assert resp.status == 413
        assert b"".join([c async for c in resp.content]) == b"too big"
    await assert_recovers(client, transport, scripted)


# --------------------------------------------------------------------------------------------
# slow and silent servers
# --------------------------------------------------------------------------------------------


async def test_accepts_and_never_answers_read_timeout(make_transport, scripted):
    transport = make_transport(read_timeout=0.3)
    client = Client(transport)
    scripted.handler = per_connection(canned(b"", "hang"), FRESH)
    with pytest.raises(TimeoutError) as info:
        await asyncio.wait_for(client.get(scripted.url + "/"), 10)
    exact(info.value, TimeoutError, r"^Request failed: read timed out$")
    assert not isinstance(info.value, ConnectTimeout)
    await assert_recovers(client, transport, scripted)


async def test_trickling_server_hits_total_timeout(make_transport, scripted):
    """One byte every 0.2 s never trips a 1 s read timeout, but the 1.5 s total deadline
    ends the request, in the head or in the body."""
    transport = make_transport(read_timeout=1.0, timeout=1.5)
    client = Client(transport)
    data = OK_HEAD + b"content-length: 5\r\n\r\nhello"
    scripted.handler = per_connection(trickle(data, 0.2), FRESH)
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(TimeoutError) as info:
        await asyncio.wait_for(client.get(scripted.url + "/"), 10)
    assert 1.4 < loop.time() - start < 5
    exact(info.value, TimeoutError, r"request timed out$")
    await assert_recovers(client, transport, scripted)


async def test_trickling_body_total_timeout_while_streaming(make_transport, scripted):
    transport = make_transport(timeout=1.0)
    client = Client(transport)
    data = OK_HEAD + b"content-length: 100\r\n\r\n" + b"z" * 100
    scripted.handler = per_connection(trickle(data, 0.01), FRESH)
    got = b""
    async with client.stream("GET", scripted.url + "/") as resp:
        with pytest.raises(TimeoutError) as info:
            async for chunk in resp.content:
                got += chunk
    exact(info.value, TimeoutError, r"^Error reading content: request timed out$")
    assert 0 < len(got) < 100
    await assert_recovers(client, transport, scripted)


@pytest.mark.parametrize("how", ["idle-close", "idle-rst", "read-close", "read-rst"])
@pytest.mark.parametrize("method", ["GET", "PUT", "POST"])
async def test_server_closes_keep_alive_connection(client, transport, scripted, method, how):
    """The server ends a keep-alive connection after one response. Noticed while idle
    (``idle-*``): the pool drops it and every method goes out on a fresh connection. Found
    only by sending (``read-*``: the server takes the next request and closes): idempotent
    requests are retried once on a fresh connection, a POST fails (it may have been acted on)."""

    async def first(conn: Conn) -> None:
        await conn.read_request()
        await conn.send_response(200, b"first")
        if how.startswith("read") and await conn.read_request() is None:
            return
        if how.endswith("close"):
            await conn.close()
        else:
            await asyncio.sleep(0.05)
            conn.rst()

    scripted.handler = per_connection(first, FRESH)
    assert (await client.get(scripted.url + "/")).content == b"first"
    if how.startswith("idle"):
        await scripted.wait_done(scripted.connections[0])
        await asyncio.sleep(0.05)
        assert idle(transport) == 0
    content = b"d" if method in ("PUT", "POST") else None
    if method == "POST" and how.startswith("read"):
        with pytest.raises(Exception) as info:
            await client.execute(method, scripted.url + "/", content=content)
        if how == "read-close":
            exact(info.value, RemoteProtocolError, r"^Request failed: .*closed before any response")
        else:
            exact(info.value, ReadError, r"^Request failed: .*reset")
        assert scripted.accepted == 1
        await assert_recovers(client, transport, scripted)
    else:
        resp = await client.execute(method, scripted.url + "/", content=content)
        assert (resp.status, resp.content) == (200, b"fresh")
        assert scripted.accepted == 2
        await assert_recovers(client, transport, scripted, fresh=False)


# --------------------------------------------------------------------------------------------
# TLS: certificates that must be refused
# --------------------------------------------------------------------------------------------


def self_signed_pem() -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return (
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def _tls_server_context(case: str, ca: trustme.CA, tmp_path: Any) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    if case == "expired":
        past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
        leaf = ca.issue_cert(
            "127.0.0.1", "localhost",
            not_before=past - datetime.timedelta(days=30), not_after=past,
        )
        leaf.configure_cert(ctx)
    elif case == "not-yet-valid":
        future = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=2)
        leaf = ca.issue_cert(
            "127.0.0.1", "localhost",
            not_before=future, not_after=future + datetime.timedelta(days=30),
        )
        leaf.configure_cert(ctx)
    elif case == "wrong-host":
        ca.issue_cert("other.example").configure_cert(ctx)
    elif case == "untrusted-ca":
        trustme.CA().issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    elif case == "self-signed":
        cert, key = self_signed_pem()
        (tmp_path / "c.pem").write_bytes(cert)
        (tmp_path / "k.pem").write_bytes(key)
        ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    else:
        raise ValueError(case)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


TLS_FAULTS = {
    "expired": r"certificate has expired",
    "not-yet-valid": r"certificate is not yet valid",
    "wrong-host": r"mismatch",
    "untrusted-ca": r"unable to get local issuer certificate",
    "self-signed": r"self[- ]signed certificate",
}


@pytest.mark.parametrize("case", list(TLS_FAULTS))
async def test_tls_certificate_refused(
    client, transport, scripted_factory, server_ssl_context, ca, tmp_path, case
):
    bad_ctx = _tls_server_context(case, ca, tmp_path)
    bad = scripted_factory(keep_alive(b"never"), ssl_context=bad_ctx)
    good = scripted_factory(FRESH, ssl_context=server_ssl_context())
    with pytest.raises(ConnectionError) as info:
        await asyncio.wait_for(client.get(bad.url + "/"), 10)
    exact(info.value, ConnectionError, r"^Request failed: TLS handshake with 127\.0\.0\.1: .*"
          + TLS_FAULTS[case])
    assert not isinstance(info.value, TimeoutError)
    assert not any(c.requests for c in bad.connections)  # no request byte reached it
    assert idle(transport) == 0
    resp = await client.get(good.url + "/")
    assert resp.content == b"fresh"
