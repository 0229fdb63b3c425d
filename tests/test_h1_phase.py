"""The HTTP/1.1 core's phase and reuse decision (cpqwest._h1.H1Core), through both drivers:
a connection whose exchange failed, or whose response was followed by bytes nobody asked for,
never goes back to a pool; a clean keep-alive exchange leaves it idle and reused."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from servers.scripted import Conn, canned, keep_alive, per_connection

from pyqwest import Client, RemoteProtocolError, SyncClient

OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
STRAY = b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\npoison"
TRUNCATED = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nok"
FRESH = keep_alive(b"fresh")


async def stray_after_ok(conn: Conn) -> None:
    """A whole response with a second one nobody asked for in the same write."""
    if await conn.read_request() is None:
        return
    await conn.send(OK + STRAY)
    await FRESH(conn)


def sync_idle(transport: Any) -> list[Any]:
    """The sync pool's idle connections."""
    return [c for stack in transport._pool._idle.values() for c in stack]


# --- blocking driver ---------------------------------------------------------------------------


def test_sync_clean_exchange_leaves_the_connection_idle(make_sync_transport, scripted):
    scripted.handler = FRESH
    transport = make_sync_transport(timeout=10)
    client = SyncClient(transport)
    assert client.get(scripted.url + "/").content == b"fresh"
    assert [(c.phase_name, c.reused) for c in sync_idle(transport)] == [("idle", True)]
    assert client.get(scripted.url + "/").content == b"fresh"
    assert scripted.accepted == 1


def test_sync_failed_connection_never_goes_back(make_sync_transport, scripted):
    scripted.handler = per_connection(canned(TRUNCATED, then="close"), FRESH)
    transport = make_sync_transport(timeout=10)
    client = SyncClient(transport)
    with pytest.raises(RemoteProtocolError):
        client.get(scripted.url + "/")
    assert sync_idle(transport) == []
    assert client.get(scripted.url + "/").content == b"fresh"
    assert scripted.accepted == 2


@pytest.mark.parametrize("mode", ["buffered", "streamed"])
def test_sync_stray_bytes_after_a_response_are_not_reused(make_sync_transport, scripted, mode):
    scripted.handler = per_connection(stray_after_ok, FRESH)
    transport = make_sync_transport(timeout=10)
    client = SyncClient(transport)
    if mode == "buffered":
        assert client.get(scripted.url + "/").content == b"ok"
    else:
        with client.stream("GET", scripted.url + "/") as resp:
            assert b"".join(resp.content) == b"ok"
    assert sync_idle(transport) == []
    assert client.get(scripted.url + "/next").content == b"fresh"
    assert scripted.accepted == 2


# --- asyncio driver ----------------------------------------------------------------------------


async def test_async_failed_connection_never_goes_back(client: Client, transport, scripted):
    scripted.handler = per_connection(canned(TRUNCATED, then="close"), FRESH)
    with pytest.raises(RemoteProtocolError):
        await client.get(scripted.url + "/")
    assert transport._h1.current_pool().idle_count() == 0
    assert (await client.get(scripted.url + "/")).content == b"fresh"
    assert scripted.accepted == 2


@pytest.mark.parametrize("mode", ["buffered", "streamed"])
async def test_async_stray_bytes_after_a_response_are_not_reused(
    client: Client, transport, scripted, mode
):
    scripted.handler = per_connection(stray_after_ok, FRESH)
    if mode == "buffered":
        assert (await client.get(scripted.url + "/")).content == b"ok"
    else:
        async with client.stream("GET", scripted.url + "/") as resp:
            assert b"".join([bytes(c) async for c in resp.content]) == b"ok"
    assert transport._h1.current_pool().idle_count() == 0
    second = await asyncio.wait_for(client.get(scripted.url + "/next"), 10)
    assert second.content == b"fresh"
    assert scripted.accepted == 2


async def test_async_clean_exchange_is_reused(client: Client, transport, scripted):
    scripted.handler = FRESH
    assert (await client.get(scripted.url + "/")).content == b"fresh"
    assert transport._h1.current_pool().idle_count() == 1
    assert (await client.get(scripted.url + "/")).content == b"fresh"
    assert scripted.accepted == 1
