"""OpenTelemetry (spec §3.7) with the SDK's in-memory exporters against the kitchensink (which
echoes request headers, so propagation is seen server-side): the CLIENT span and its
attributes, error.type, traceparent/tracestate/baggage, the two metrics with exemplars,
`stream` ending the span at the head and buffered calls after the body; async and sync,
HTTP/1.1, h2c and HTTP/2 over TLS; `enable_otel=False` and OTel absent import nothing."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from typing import Any

import pytest
from opentelemetry import baggage, context, trace
from opentelemetry.propagate import extract
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    StatusCode,
    TraceFlags,
    TraceState,
)

from pyqwest import (
    Client,
    HTTPTransport,
    HTTPVersion,
    SyncClient,
    SyncHTTPTransport,
)

pytestmark = pytest.mark.parametrize("flavour", ["async", "sync"])

VERSION_ATTR = {HTTPVersion.HTTP1: "1.1", HTTPVersion.HTTP2: "2"}
POOL_METRICS = {
    "http.client.open_connections", "http.client.connections.opened",
    "http.client.connections.reused", "http.client.connections.closed",
    "http.client.requests.waiting_for_stream",
}


class Otel:
    """An SDK tracer provider and meter provider with in-memory exporters."""

    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def finished(self) -> list[Any]:
        return list(self.spans.get_finished_spans())

    def metrics(self) -> dict[str, Any]:
        data = self.reader.get_metrics_data()
        if data is None:
            return {}
        return {
            m.name: m
            for rm in data.resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
        }

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


@pytest.fixture
def otel() -> Any:
    o = Otel()
    yield o
    o.shutdown()


# (scheme, forced version, version expected)
ROUTES = {
    "h1": ("http", HTTPVersion.HTTP1, HTTPVersion.HTTP1),
    "h2c": ("http", HTTPVersion.HTTP2, HTTPVersion.HTTP2),
    "h2-tls": ("https", None, HTTPVersion.HTTP2),
}


@pytest.fixture(params=list(ROUTES))
def route(request: pytest.FixtureRequest, http_server: Any, https_server: Any) -> Any:
    scheme, forced, expected = ROUTES[request.param]
    server = http_server if scheme == "http" else https_server
    return server, forced, expected


@pytest.fixture
def client(flavour: str, route: Any, otel: Otel, make_transport: Any,
           make_sync_transport: Any) -> Client | SyncClient:
    _server, forced, _ = route
    make = make_transport if flavour == "async" else make_sync_transport
    transport = make(
        http_version=forced, tracer_provider=otel.tracer_provider,
        meter_provider=otel.meter_provider,
    )
    return Client(transport) if flavour == "async" else SyncClient(transport)


async def call(client: Client | SyncClient, method: str, url: str, **kw: Any) -> Any:
    if isinstance(client, SyncClient):
        return await asyncio.to_thread(client.execute, method, url, **kw)
    return await client.execute(method, url, **kw)


def base_attrs(method: str, server: Any) -> dict[str, Any]:
    return {"http.request.method": method, "server.address": server.host,
            "server.port": server.port}


def check_metrics(otel: Otel, attrs: dict[str, Any], span: Any) -> None:
    metrics = otel.metrics()
    # the pool's own instruments are tests/test_pool_stats.py's
    assert set(metrics) - POOL_METRICS == {
        "http.client.active_requests", "http.client.request.duration"
    }
    active = metrics["http.client.active_requests"]
    assert active.unit == "{request}"
    assert active.description == "Number of active HTTP requests."
    (point,) = active.data.data_points
    assert point.value == 0
    assert dict(point.attributes) == {
        k: attrs[k] for k in ("http.request.method", "server.address", "server.port")
    }
    duration = metrics["http.client.request.duration"]
    assert duration.unit == "s"
    assert duration.description == "Duration of HTTP client requests."
    (hpoint,) = duration.data.data_points
    assert hpoint.count == 1
    assert 0 < hpoint.sum < 60
    assert dict(hpoint.attributes) == attrs
    ctx = span.get_span_context()
    for p in (point, hpoint):
        assert p.exemplars, "exemplars link the metrics to the span"
        assert {(e.trace_id, e.span_id) for e in p.exemplars} == {(ctx.trace_id, ctx.span_id)}


async def test_buffered_span_metrics_and_propagation(client, route, otel):
    server, _, version = route
    url = server.url + "/echo?animal=bear"
    resp = await call(client, "POST", url, headers={"content-type": "text/plain"},
                      content=b"Hello, World!")
    assert resp.status == 200 and resp.content == b"Hello, World!"
    (span,) = otel.finished()
    assert span.name == "POST"
    assert span.kind == SpanKind.CLIENT
    assert span.parent is None
    attrs = {**base_attrs("POST", server), "network.protocol.name": "http",
             "network.protocol.version": VERSION_ATTR[version],
             "http.response.status_code": 200}
    assert dict(span.attributes) == {**attrs, "url.full": url}
    assert span.status.status_code == StatusCode.UNSET
    # the server saw the span's trace context
    seen = trace.get_current_span(extract({"traceparent": resp.headers["x-echo-traceparent"]}))
    ctx = span.get_span_context()
    assert seen.get_span_context().trace_id == ctx.trace_id
    assert seen.get_span_context().span_id == ctx.span_id
    check_metrics(otel, attrs, span)


async def test_caller_headers_are_not_changed(client, route, otel):
    from pyqwest import Headers

    server, _, _ = route
    headers = Headers({"x-mine": "1"})
    resp = await call(client, "GET", server.url + "/echo", headers=headers)
    assert "x-echo-traceparent" in resp.headers
    assert list(headers.items()) == [("x-mine", "1")]


async def test_stream_ends_the_span_at_the_head(client, route, otel):
    server, _, version = route
    url = server.url + "/slow-body?chunks=3&delay=0.05"
    if isinstance(client, SyncClient):

        def run() -> tuple[list[Any], bytes]:
            with client.stream("GET", url) as resp:
                at_head = otel.finished()
                return at_head, b"".join(resp.content)

        at_head, body = await asyncio.to_thread(run)
    else:
        async with client.stream("GET", url) as resp:
            at_head = otel.finished()
            body = b"".join([bytes(c) async for c in resp.content])
    assert body == b"chunk0\nchunk1\nchunk2\n"
    (span,) = at_head
    assert span.attributes["http.response.status_code"] == 200
    assert span.attributes["network.protocol.version"] == VERSION_ATTR[version]
    assert otel.finished() == at_head
    duration = otel.metrics()["http.client.request.duration"]
    assert duration.data.data_points[0].sum < 0.1 + 5  # recorded at the head, not the body


async def test_connection_error(client, otel):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/echo"
    with pytest.raises(ConnectionError):
        await call(client, "GET", url)
    (span,) = otel.finished()
    attrs = {"http.request.method": "GET", "server.address": "127.0.0.1", "server.port": port,
             "network.protocol.name": "http", "error.type": "ConnectionError"}
    assert dict(span.attributes) == {**attrs, "url.full": url}
    assert span.status.status_code == StatusCode.ERROR
    check_metrics(otel, attrs, span)


async def test_body_failure_after_the_head(client, route, otel):
    server, forced, version = route
    if forced is HTTPVersion.HTTP2:
        # hypercorn neither resets the stream nor closes the connection for 30 s after an
        # app error over HTTP/2: the TLS (ALPN) route covers HTTP/2 here
        pytest.skip("h2c: covered by the TLS route (hypercorn waits 30 s)")
    url = server.url + "/echo"
    with pytest.raises(Exception) as info:  # the class depends on the version
        await call(client, "GET", url, headers={"x-error-response": "1"})
    (span,) = otel.finished()
    attrs = {**base_attrs("GET", server), "network.protocol.name": "http",
             "network.protocol.version": VERSION_ATTR[version],
             "http.response.status_code": 200, "error.type": info.type.__qualname__}
    assert info.type.__qualname__ in {"ReadError", "RemoteProtocolError", "StreamError"}
    assert dict(span.attributes) == {**attrs, "url.full": url}
    check_metrics(otel, attrs, span)


async def test_parent_tracestate_and_baggage(client, route, otel):
    server, _, _ = route
    remote = NonRecordingSpan(SpanContext(
        trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736, span_id=0x00F067AA0BA902B7,
        is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("food", "pizza")]),
    ))
    ctx = baggage.set_baggage("animal", "bear", trace.set_span_in_context(remote))
    token = context.attach(ctx)
    try:
        tracer = otel.tracer_provider.get_tracer("test")
        with tracer.start_as_current_span("parent") as parent:
            resp = await call(client, "GET", server.url + "/echo")
    finally:
        context.detach(token)
    assert "food=pizza" in resp.headers["x-echo-tracestate"]
    assert "animal=bear" in resp.headers["x-echo-baggage"]
    spans = {s.name: s for s in otel.finished()}
    span = spans["GET"]
    assert span.parent == parent.get_span_context()
    assert span.get_span_context().trace_id == 0x4BF92F3577B34DA6A3CE929D0E0E4736
    assert context.get_current() == {}


async def test_redirect_chain_is_one_span(client, route, otel):
    server, _, _ = route
    url = server.url + "/redirect/3"
    resp = await call(client, "GET", url)
    assert resp.status == 200
    (span,) = otel.finished()
    assert span.attributes["url.full"] == url
    assert span.attributes["http.response.status_code"] == 200


async def test_disabled(flavour, http_server, otel, make_transport, make_sync_transport):
    make = make_transport if flavour == "async" else make_sync_transport
    transport = make(enable_otel=False, tracer_provider=otel.tracer_provider,
                     meter_provider=otel.meter_provider)
    client = Client(transport) if flavour == "async" else SyncClient(transport)
    resp = await call(client, "GET", http_server.url + "/echo")
    assert resp.status == 200
    assert "x-echo-traceparent" not in resp.headers
    assert otel.finished() == []
    assert otel.metrics() == {}


_NO_IMPORT = """
import sys
{prelude}
import pyqwest
t = pyqwest.{cls}({options})
assert t._telemetry is None
assert not [m for m, v in sys.modules.items() if m.startswith("opentelemetry") and v], "imported"
print("ok")
"""


@pytest.mark.parametrize("case", ["disabled", "absent"])
def test_nothing_imported_when_off_or_absent(flavour: str, case: str) -> None:
    prelude = 'sys.modules["opentelemetry"] = None' if case == "absent" else ""
    options = "enable_otel=False" if case == "disabled" else ""
    cls = "HTTPTransport" if flavour == "async" else "SyncHTTPTransport"
    code = _NO_IMPORT.format(prelude=prelude, cls=cls, options=options)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
    assert HTTPTransport and SyncHTTPTransport  # the classes under test
