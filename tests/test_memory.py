"""Huge bodies and decompression bombs stream in bounded memory (measured peak RSS).

The peak is the kernel's VmHWM, reset through /proc/self/clear_refs before each case (Linux),
so it covers everything in this process (the loopback server thread too). Figures are printed
(``-s``). PYQWEST_MEMORY_GIB scales the sizes (default 1 GiB).
"""

from __future__ import annotations

import asyncio
import os
import zlib
from functools import cache

import brotli
import pytest
import zstandard
from servers.scripted import Conn

from pyqwest import Client, RemoteProtocolError

GIB = float(os.environ.get("PYQWEST_MEMORY_GIB", "1"))
SIZE = int(GIB * (1 << 30))
MIB = 1 << 20
BOUND = 96 * MIB  # allowed peak above the baseline
BLOCK = bytes(MIB)

pytestmark = [
    pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc"),
    pytest.mark.timeout(300),
]


def reset_peak() -> int:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return status("VmRSS")


def status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(field)


async def read_streamed(client: Client, url: str, lag: float = 0.0) -> int:
    """Stream the body, chunk by chunk; ``lag``: the consumer waits before its first read
    (the connection must stop reading meanwhile)."""
    total = 0
    async with client.stream("GET", url) as resp:
        assert resp.status == 200
        if lag:
            await asyncio.sleep(lag)
        async for chunk in resp.content:
            total += len(chunk)
    return total


def report(what: str, base: int) -> int:
    peak = status("VmHWM") - base
    print(f"\n{what}: peak RSS {peak / MIB:+.1f} MiB over {base / MIB:.1f} MiB")
    return peak


async def huge(conn: Conn) -> None:
    req = await conn.read_request()
    if req is None:
        return
    chunked = req.target.startswith("/chunked")
    if chunked:
        await conn.send(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
    else:
        await conn.send(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % SIZE)
    for _ in range(SIZE // MIB):
        if chunked:
            await conn.send(b"100000\r\n" + BLOCK + b"\r\n")
        else:
            await conn.send(BLOCK)
    if chunked:
        await conn.send(b"0\r\n\r\n")


@pytest.mark.parametrize("framing", ["length", "chunked"])
async def test_huge_body_streams_in_bounded_memory(client, scripted, framing):
    scripted.handler = huge
    base = reset_peak()
    url = scripted.url + ("/chunked" if framing == "chunked" else "/length")
    assert await asyncio.wait_for(read_streamed(client, url, lag=0.3), 240) == SIZE
    assert report(f"{SIZE / MIB:.0f} MiB body ({framing})", base) < BOUND


@cache
def bomb(coding: str) -> bytes:
    """SIZE bytes of zeros, compressed (a few KiB to a few hundred KiB)."""
    if coding == "gzip":
        c = zlib.compressobj(9, zlib.DEFLATED, 31)
        return b"".join(c.compress(BLOCK) for _ in range(SIZE // MIB)) + c.flush()
    if coding == "br":
        b = brotli.Compressor(quality=1)
        return b"".join(b.process(BLOCK) for _ in range(SIZE // MIB)) + b.finish()
    z = zstandard.ZstdCompressor(level=3).compressobj()
    return b"".join(z.compress(BLOCK) for _ in range(SIZE // MIB)) + z.flush()


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
async def test_decompression_bomb_streams_in_bounded_memory(client, scripted, coding):
    payload = bomb(coding)

    async def handler(conn: Conn) -> None:
        req = await conn.read_request()
        if req is not None:
            await conn.send_response(200, payload, [("content-encoding", coding)])

    scripted.handler = handler
    base = reset_peak()
    total = await asyncio.wait_for(read_streamed(client, scripted.url + "/"), 240)
    assert total == SIZE
    peak = report(f"{coding} bomb {len(payload)} B -> {SIZE / MIB:.0f} MiB", base)
    assert peak < BOUND


async def test_huge_declared_length_is_not_allocated_up_front(client, scripted):
    """A head claiming a 1 GiB body, then 10 bytes and FIN: a typed error, and the memory
    reserved for a buffered read is never touched."""

    async def handler(conn: Conn) -> None:
        if await conn.read_request() is not None:
            await conn.send(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n0123456789" % (1 << 30))
            await conn.close()

    scripted.handler = handler
    base = reset_peak()
    with pytest.raises(RemoteProtocolError, match=r"closed before the response was complete"):
        await client.get(scripted.url + "/")
    assert report("1 GiB Content-Length, 10 bytes sent", base) < BOUND
