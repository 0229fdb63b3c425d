"""response.timings (Timings): the phases of an exchange, stamped where they happen, for async
and sync, HTTP/1.1, h2c and HTTP/2 over TLS, buffered and streamed, against the kitchensink
(whose ``/conn?delay=`` holds the response head back)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pyqwest import (
    Client,
    FullResponse,
    HTTPVersion,
    Response,
    SyncClient,
    SyncResponse,
    Timings,
)

pytestmark = pytest.mark.parametrize("flavour", ["async", "sync"])

# (scheme, forced version)
ROUTES = {
    "h1": ("http", HTTPVersion.HTTP1),
    "h2c": ("http", HTTPVersion.HTTP2),
    "h2-tls": ("https", None),
    "h1-tls": ("https", HTTPVersion.HTTP1),
}


@pytest.fixture(params=list(ROUTES))
def route(request: pytest.FixtureRequest, http_server: Any, https_server: Any) -> Any:
    scheme, forced = ROUTES[request.param]
    return (http_server if scheme == "http" else https_server), forced


@pytest.fixture
def client(flavour: str, route: Any, make_transport: Any, make_sync_transport: Any) -> Any:
    _server, forced = route
    make = make_transport if flavour == "async" else make_sync_transport
    transport = make(http_version=forced)
    return Client(transport) if flavour == "async" else SyncClient(transport)


async def get(client: Client | SyncClient, url: str) -> FullResponse:
    if isinstance(client, SyncClient):
        return await asyncio.to_thread(client.get, url)
    return await client.get(url)


def check_order(t: Timings) -> None:
    """Every phase measured, in the order they happen."""
    assert t.request_sent is not None and t.first_byte is not None
    assert t.body_complete is not None
    assert 0.0 <= t.request_sent <= t.first_byte <= t.body_complete < 30


async def test_new_connection_has_its_setup_phases(client, route):
    server, _ = route
    t = (await get(client, server.url + "/echo")).timings
    check_order(t)
    assert not t.reused
    assert t.dns is not None and t.connect is not None
    assert (t.tls is not None) == server.url.startswith("https")
    assert t.setup is not None and 0.0 < t.setup <= t.request_sent


async def test_reused_connection_has_no_setup_phases(client, route):
    server, _ = route
    first = await get(client, server.url + "/echo")
    second = await get(client, server.url + "/echo")
    assert not first.timings.reused
    t = second.timings
    check_order(t)
    assert t.reused
    assert (t.dns, t.connect, t.tls, t.setup) == (None, None, None, None)


async def test_a_delayed_head_shows_in_time_to_first_byte(client, route):
    server, _ = route
    await get(client, server.url + "/echo")  # connected: only the delay is left
    t = (await get(client, server.url + "/conn?delay=0.2")).timings
    check_order(t)
    assert t.server is not None and t.server >= 0.19
    assert t.first_byte is not None and t.first_byte >= 0.19


async def test_streamed_body_complete_comes_with_the_last_byte(client, route):
    server, _ = route
    url = server.url + "/slow-body?chunks=3&delay=0.1"
    if isinstance(client, SyncClient):

        def run() -> tuple[Timings, bytes, Timings]:
            with client.stream("GET", url) as resp:
                assert isinstance(resp, SyncResponse)
                at_head = resp.timings
                return at_head, b"".join(resp.content), resp.timings

        at_head, body, after = await asyncio.to_thread(run)
    else:
        async with client.stream("GET", url) as resp:
            assert isinstance(resp, Response)
            at_head = resp.timings
            body = b"".join([bytes(c) async for c in resp.content])
            after = resp.timings
    assert body == b"chunk0\nchunk1\nchunk2\n"
    assert at_head.first_byte is not None and at_head.body_complete is None
    check_order(after)
    assert after.body_complete is not None and after.first_byte is not None
    assert after.body_complete - after.first_byte >= 0.19  # two more chunks, 0.1 s apart


def test_a_response_built_by_hand_has_no_timings(flavour):
    built = (Response(status=200) if flavour == "async" else SyncResponse(status=200))
    full = FullResponse(200, built.headers, b"", built.headers)
    for t in (built.timings, full.timings):
        assert t == Timings()
        assert not t.reused and t.first_byte is None and t.setup is None
