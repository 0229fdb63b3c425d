"""pool_stats() (PoolStats) on both transports, checked against what the servers saw: the
kitchensink's ``x-conn-port`` names the connection a response came on (HTTP/1.1, h2c, HTTP/2
over TLS), the raw HTTP/2 server counts its connections and limits streams."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pyqwest import (
    Client,
    FullResponse,
    HTTPVersion,
    PoolStats,
    SyncClient,
)

pytestmark = pytest.mark.parametrize("flavour", ["async", "sync"])

# (scheme, forced version, version of the connections)
ROUTES = {
    "h1": ("http", HTTPVersion.HTTP1, HTTPVersion.HTTP1),
    "h2c": ("http", HTTPVersion.HTTP2, HTTPVersion.HTTP2),
    "h2-tls": ("https", None, HTTPVersion.HTTP2),
}


class Env:
    """A client of one flavour, its transport and the server of the route."""

    def __init__(self, flavour: str, server: Any, version: HTTPVersion, make: Any,
                 **options: Any) -> None:
        self.server = server
        self.version = version
        self.transport = make(**options)
        self.client = Client(self.transport) if flavour == "async" else SyncClient(self.transport)

    async def get(self, path: str) -> FullResponse:
        url = self.server.url + path
        if isinstance(self.client, SyncClient):
            return await asyncio.to_thread(self.client.get, url)
        return await self.client.get(url)

    def stats(self) -> PoolStats:
        """The one route's record of the expected version."""
        (record,) = [s for s in self.transport.pool_stats() if s.http_version == self.version]
        return record


@pytest.fixture(params=list(ROUTES))
def env(request: pytest.FixtureRequest, flavour: str, http_server: Any, https_server: Any,
        make_transport: Any, make_sync_transport: Any) -> Any:
    scheme, forced, version = ROUTES[request.param]
    server = http_server if scheme == "http" else https_server
    make = make_transport if flavour == "async" else make_sync_transport

    def build(**options: Any) -> Env:
        return Env(flavour, server, version, make, http_version=forced, **options)

    return build


def ports(responses: list[FullResponse]) -> set[str]:
    return {r.headers["x-conn-port"] for r in responses}


async def test_sequential_requests_reuse_one_connection(env):
    e = env()
    assert e.transport.pool_stats() == []
    responses = [await e.get("/conn") for _ in range(3)]
    assert len(ports(responses)) == 1
    s = e.stats()
    assert s.origin == e.server.url.rstrip("/")
    assert s.proxy is None
    assert (s.opened, s.reused, s.idle, s.in_use, s.closed) == (1, 2, 1, 0, 0)
    assert (s.closed_by_error, s.closed_by_idle_timeout, s.waiting_for_stream) == (0, 0, 0)


async def test_concurrent_requests_count_the_servers_connections(env):
    e = env()
    responses = await asyncio.gather(*[e.get("/conn?delay=0.2") for _ in range(4)])
    s = e.stats()
    assert s.opened == len(ports(responses))
    assert s.opened + s.reused == 4
    if e.version == HTTPVersion.HTTP1:
        assert s.opened == 4  # one connection per request in flight
    assert (s.idle, s.in_use, s.closed) == (s.opened, 0, 0)


async def test_the_idle_timeout_closes_and_counts(env):
    e = env(pool_idle_timeout=0.2)
    first = await e.get("/conn")
    await asyncio.sleep(0.6)
    second = await e.get("/conn")
    assert len(ports([first, second])) == 2
    s = e.stats()
    assert (s.opened, s.reused, s.closed_by_idle_timeout, s.closed) == (2, 0, 1, 1)
    assert (s.idle, s.in_use, s.closed_by_error) == (1, 0, 0)


async def test_a_failed_connection_is_closed_by_error_and_not_pooled(env):
    # the budget is the first request's too (a TLS handshake on a loaded machine): 1 s, not less
    e = env(read_timeout=1.0)
    await e.get("/conn")
    with pytest.raises(TimeoutError):
        await e.get("/stall?where=body")  # the head, then no body: the read times out
    s = e.stats()
    if e.version == HTTPVersion.HTTP1:
        assert (s.closed, s.closed_by_error, s.idle, s.in_use) == (1, 1, 0, 0)
    else:
        # HTTP/2: the stream fails, its connection carries on
        assert (s.closed, s.closed_by_error, s.idle, s.in_use) == (0, 0, 1, 0)
    assert s.opened == 1 and s.reused == 1


async def test_requests_waiting_for_a_stream_slot(flavour, h2_server_factory, make_transport,
                                                  make_sync_transport):
    release = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def handler(req: Any) -> None:
        await req.read_body()
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(release.wait(), loop))
        await req.respond(200, b"ok")

    server = h2_server_factory(handler, max_concurrent_streams=1)
    e = Env(flavour, server, HTTPVersion.HTTP2,
            make_transport if flavour == "async" else make_sync_transport,
            http_version=HTTPVersion.HTTP2)
    calls = [asyncio.ensure_future(e.get("/")) for _ in range(3)]
    for _ in range(200):
        await asyncio.sleep(0.02)
        stats = e.transport.pool_stats()
        if stats and stats[0].waiting_for_stream == 2:
            break
    (s,) = e.transport.pool_stats()
    assert (s.waiting_for_stream, s.in_use, s.idle, s.opened) == (2, 1, 0, 1)
    release.set()
    assert [r.status for r in await asyncio.gather(*calls)] == [200, 200, 200]
    (s,) = e.transport.pool_stats()
    assert (s.waiting_for_stream, s.in_use, s.idle, s.opened, s.reused) == (0, 0, 1, 1, 2)
    assert len(server.connections) == 1


async def test_exported_as_otel_metrics(env):
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    try:
        e = env(meter_provider=provider)
        await e.get("/conn")
        await e.get("/conn")
        data = reader.get_metrics_data()
        assert data is not None
        points = {
            m.name: {tuple(sorted(p.attributes.items())): p.value for p in m.data.data_points}
            for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
            if m.name != "http.client.request.duration"
        }
    finally:
        provider.shutdown()
    host, port = e.stats().origin.rpartition("://")[2].rsplit(":", 1)
    route = {"server.address": host, "server.port": int(port),
             "url.scheme": e.stats().origin.partition(":")[0],
             "network.protocol.version": "1.1" if e.version == HTTPVersion.HTTP1 else "2"}

    def at(**extra: Any) -> tuple[tuple[str, Any], ...]:
        return tuple(sorted({**route, **extra}.items()))

    assert points["http.client.connections.opened"] == {at(): 1}
    assert points["http.client.connections.reused"] == {at(): 1}
    assert points["http.client.open_connections"] == {
        at(**{"http.connection.state": "active"}): 0, at(**{"http.connection.state": "idle"}): 1,
    }
    assert set(points["http.client.connections.closed"].values()) == {0}


async def test_http3_routes_are_reported_as_http3(flavour, h3_server, make_transport,
                                                  make_sync_transport):
    e = Env(flavour, h3_server, HTTPVersion.HTTP3,
            make_transport if flavour == "async" else make_sync_transport,
            http_version=HTTPVersion.HTTP3)
    await e.get("/conn")
    await e.get("/conn")
    (s,) = e.transport.pool_stats()
    assert (s.http_version, s.opened, s.reused, s.idle) == (HTTPVersion.HTTP3, 1, 1, 1)
