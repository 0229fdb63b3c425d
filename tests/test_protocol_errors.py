"""Broken HTTP/1.1 peers (spec 1.1 classification, section 0 head limits, section 4).

Every case runs against a scripted server whose first connection misbehaves and whose later
connections are healthy; after the failure a follow-up request on the same transport must succeed
on a fresh connection (a broken connection is never pooled).
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from servers.scripted import canned, keep_alive

from pyqwest import ReadError, RemoteProtocolError


def first_then_healthy(bad):
    good = keep_alive(b"healthy")

    async def handler(conn):
        await (bad if conn.index == 0 else good)(conn)

    return handler


async def assert_follow_up_ok(client, scripted):
    resp = await asyncio.wait_for(client.get(scripted.url + "/"), 10)
    assert resp.status == 200
    assert resp.content == b"healthy"
    assert scripted.accepted == 2


async def read_all(resp) -> bytes:
    out = bytearray()
    async for chunk in resp.content:
        out += chunk
    return bytes(out)


RAW_FIN_CASES = {
    "empty": b"",
    "boom-status": b"HTTP/1.1 boom\r\n\r\n",
    "garbage": b"\x00\x01\x02 this is not http\r\n\r\n",
    "not-http": b"SSH-2.0-OpenSSH_9.0\r\n",
    "bad-version": b"HTTP/9.7 200 OK\r\ncontent-length: 0\r\n\r\n",
    "partial-head": b"HTTP/1.1 200 OK\r\ncontent-le",
    "bad-chunk-size": (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
    ),
    "short-content-length": b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort",
    "unterminated-chunked": b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n",
    "chunk-shorter-than-size": b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\na\r\nhello",
    "bad-content-length": b"HTTP/1.1 200 OK\r\ncontent-length: abc\r\n\r\n",
    "conflicting-content-length": (
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nabc"
    ),
    "space-in-header-name": b"HTTP/1.1 200 OK\r\nbad header: x\r\ncontent-length: 0\r\n\r\n",
    "status-too-long": b"HTTP/1.1 2000 OK\r\ncontent-length: 0\r\n\r\n",
}


@pytest.mark.parametrize("raw", list(RAW_FIN_CASES.values()), ids=list(RAW_FIN_CASES))
async def test_raw_reply_then_fin_remote_protocol_error(client, scripted, raw):
    scripted.handler = first_then_healthy(canned(raw, then="close"))
    with pytest.raises(RemoteProtocolError):
        await asyncio.wait_for(client.get(scripted.url + "/"), 10)
    await assert_follow_up_ok(client, scripted)


@pytest.mark.parametrize(
    "raw",
    [RAW_FIN_CASES["short-content-length"], RAW_FIN_CASES["unterminated-chunked"]],
    ids=["short-content-length", "unterminated-chunked"],
)
async def test_truncated_body_streamed_status_seen(client, scripted, raw):
    scripted.handler = first_then_healthy(canned(raw, then="close"))
    async with client.stream("GET", scripted.url + "/") as resp:
        assert resp.status == 200
        with pytest.raises(RemoteProtocolError):
            await asyncio.wait_for(read_all(resp), 10)
    await assert_follow_up_ok(client, scripted)


async def test_bad_chunk_after_good_chunks_streamed(client, scripted):
    release = threading.Event()

    async def bad(conn):
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n")
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 10)
        await conn.send(b"not-hex\r\nxx\r\n0\r\n\r\n")
        await conn.hang(10)

    scripted.handler = first_then_healthy(bad)
    try:
        async with client.stream("GET", scripted.url + "/") as resp:
            assert resp.status == 200
            assert bytes(await asyncio.wait_for(resp.content.__anext__(), 10)) == b"hello"
            release.set()
            with pytest.raises(RemoteProtocolError):
                await asyncio.wait_for(read_all(resp), 10)
    finally:
        release.set()
    await assert_follow_up_ok(client, scripted)


async def test_garbage_without_close_is_error(client, scripted):
    """An invalid head is an error even if the server keeps the connection open."""
    scripted.handler = first_then_healthy(canned(b"HTTP/1.1 boom\r\n\r\n", then="hang"))
    with pytest.raises(RemoteProtocolError):
        await asyncio.wait_for(client.get(scripted.url + "/"), 10)
    await assert_follow_up_ok(client, scripted)


async def test_extra_bytes_after_response_not_reused(client, scripted):
    """Bytes after a complete response (no request pending) mean the connection is unusable."""

    async def bad(conn):
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokGARBAGE")
        await conn.hang(10)

    scripted.handler = first_then_healthy(bad)
    resp = await client.get(scripted.url + "/")
    assert resp.content == b"ok"
    await asyncio.sleep(0.1)
    resp = await asyncio.wait_for(client.get(scripted.url + "/"), 10)
    assert resp.content == b"healthy"


# --- RST -------------------------------------------------------------------------------------


async def test_rst_mid_body_read_error(client, scripted):
    release = threading.Event()

    async def bad(conn):
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n" + b"x" * 1000)
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 10)
        conn.rst()

    scripted.handler = first_then_healthy(bad)
    try:
        async with client.stream("GET", scripted.url + "/") as resp:
            assert resp.status == 200
            first = await asyncio.wait_for(resp.content.__anext__(), 10)
            assert len(first) > 0
            release.set()
            with pytest.raises(ReadError):
                await asyncio.wait_for(read_all(resp), 10)
    finally:
        release.set()
    await assert_follow_up_ok(client, scripted)


async def test_rst_mid_chunked_body_read_error(client, scripted):
    release = threading.Event()

    async def bad(conn):
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n")
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 10)
        conn.rst()

    scripted.handler = first_then_healthy(bad)
    try:
        async with client.stream("GET", scripted.url + "/") as resp:
            assert bytes(await asyncio.wait_for(resp.content.__anext__(), 10)) == b"hello"
            release.set()
            with pytest.raises(ReadError):
                await asyncio.wait_for(read_all(resp), 10)
    finally:
        release.set()
    await assert_follow_up_ok(client, scripted)


async def test_rst_before_response_not_read_error_class_confusion(client, scripted):
    """A reset with no response at all on a fresh connection is a failed exchange, not a body."""

    async def bad(conn):
        await conn.read_request()
        conn.rst()

    scripted.handler = first_then_healthy(bad)
    with pytest.raises((RemoteProtocolError, ConnectionError, ReadError)):
        await asyncio.wait_for(client.get(scripted.url + "/"), 10)
    await assert_follow_up_ok(client, scripted)


# --- head limits (section 0) -----------------------------------------------------------------


def head_with(headers: list[bytes]) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\n"
        + b"".join(h + b"\r\n" for h in headers)
        + b"content-length: 2\r\n\r\nok"
    )


async def test_100_header_fields_accepted(client, scripted):
    # 99 x-h-* plus content-length = 100 fields
    raw = head_with([f"x-h-{i}: v".encode() for i in range(99)])
    scripted.handler = first_then_healthy(canned(raw, then="hang"))
    resp = await asyncio.wait_for(client.get(scripted.url + "/"), 10)
    assert resp.content == b"ok"
    assert len(resp.headers) == 100


async def test_more_than_100_header_fields(client, scripted):
    raw = head_with([f"x-h-{i}: v".encode() for i in range(101)])
    scripted.handler = first_then_healthy(canned(raw, then="hang"))
    with pytest.raises(RemoteProtocolError):
        await asyncio.wait_for(client.get(scripted.url + "/"), 10)
    await assert_follow_up_ok(client, scripted)


async def test_header_line_over_64k(client, scripted):
    raw = head_with([b"x-big: " + b"a" * (64 * 1024 + 10)])
    scripted.handler = first_then_healthy(canned(raw, then="hang"))
    with pytest.raises(RemoteProtocolError):
        await asyncio.wait_for(client.get(scripted.url + "/"), 10)
    await assert_follow_up_ok(client, scripted)


async def test_header_line_under_64k_accepted(client, scripted):
    value = b"a" * (60 * 1024)
    raw = head_with([b"x-big: " + value])
    scripted.handler = first_then_healthy(canned(raw, then="hang"))
    resp = await asyncio.wait_for(client.get(scripted.url + "/"), 10)
    assert resp.headers["x-big"] == value.decode()


async def test_head_over_256k(client, scripted):
    # 5 lines of 60 KiB: each under the line limit, 300 KiB in total
    raw = head_with([f"x-big-{i}: ".encode() + b"a" * (60 * 1024) for i in range(5)])
    scripted.handler = first_then_healthy(canned(raw, then="hang"))
    with pytest.raises(RemoteProtocolError):
        await asyncio.wait_for(client.get(scripted.url + "/"), 10)
    await assert_follow_up_ok(client, scripted)


async def test_status_line_over_64k(client, scripted):
    raw = b"HTTP/1.1 200 " + b"O" * (64 * 1024 + 10) + b"\r\ncontent-length: 0\r\n\r\n"
    scripted.handler = first_then_healthy(canned(raw, then="hang"))
    with pytest.raises(RemoteProtocolError):
        await asyncio.wait_for(client.get(scripted.url + "/"), 10)
    await assert_follow_up_ok(client, scripted)


# --- informational responses -----------------------------------------------------------------


async def test_101_is_error(client, scripted):
    raw = b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n"
    scripted.handler = first_then_healthy(canned(raw, then="hang"))
    with pytest.raises(RemoteProtocolError):
        await asyncio.wait_for(client.get(scripted.url + "/"), 10)
    await assert_follow_up_ok(client, scripted)


async def test_1xx_before_final_response_skipped(client, scripted):
    raw = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-final: yes\r\n\r\nfinal"
    )
    scripted.handler = canned(raw, then="hang")
    resp = await asyncio.wait_for(client.get(scripted.url + "/"), 10)
    assert resp.status == 200
    assert resp.content == b"final"
    assert resp.headers["x-final"] == "yes"
    assert "link" not in resp.headers


async def test_1xx_then_keep_alive_reuse(client, scripted):
    async def handler(conn):
        while (req := await conn.read_request()) is not None:
            await conn.send(b"HTTP/1.1 102 Processing\r\n\r\n")
            await conn.send_response(200, req.target.encode())

    scripted.handler = handler
    for path in ("/a", "/b", "/c"):
        resp = await asyncio.wait_for(client.get(scripted.url + path), 10)
        assert resp.content == path.encode()
    assert scripted.accepted == 1


# --- obs-fold ---------------------------------------------------------------------------------


async def test_obs_fold_unfolded(client, scripted):
    raw = (
        b"HTTP/1.1 200 OK\r\n"
        b"x-folded: first\r\n"
        b"  second\r\n"
        b"\tthird\r\n"
        b"x-after: plain\r\n"
        b"content-length: 2\r\n\r\nok"
    )
    scripted.handler = canned(raw, then="hang")
    resp = await asyncio.wait_for(client.get(scripted.url + "/"), 10)
    assert resp.status == 200
    value = resp.headers["x-folded"]
    assert "\r" not in value and "\n" not in value
    assert value.split() == ["first", "second", "third"]
    assert resp.headers["x-after"] == "plain"
    assert resp.content == b"ok"
