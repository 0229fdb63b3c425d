"""pyqwest.httpx.AsyncPyqwestTransport (API.md §3.1), driven by httpx's own AsyncClient against
the kitchensink and Starlette apps under hypercorn, and through ASGITransport."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from servers.starlette_app import app as starlette_app
from servers.starlette_app import starlette_server  # noqa: F401
from test_errors import blackhole_port, refused_port  # noqa: F401

import pyqwest
from pyqwest import HTTPVersion, Request, Response, StreamError, StreamErrorCode
from pyqwest.httpx import AsyncPyqwestTransport
from pyqwest.httpx._transport import convert_headers, convert_timeout
from pyqwest.testing import ASGITransport

# --- conversions ---------------------------------------------------------------------------


def test_convert_headers_drops_hop_by_hop_and_default_host():
    request = httpx.Request("GET", "http://Example.com:8080/", headers=[
        ("Connection", "keep-alive"), ("keep-alive", "5"), ("proxy-connection", "x"),
        ("transfer-encoding", "chunked"), ("upgrade", "h2c"), ("x-a", "1"), ("x-a", "2"),
    ])
    assert request.headers["host"] == "example.com:8080"
    assert list(convert_headers(request).items()) == [("x-a", "1"), ("x-a", "2")]


def test_convert_headers_keeps_custom_host():
    request = httpx.Request("GET", "http://example.com/", headers={"host": "other.test"})
    assert convert_headers(request)["host"] == "other.test"


@pytest.mark.parametrize(
    ("extensions", "expected"),
    [
        ({}, None),
        ({"timeout": {"read": 1, "write": 2}}, 3.0),
        ({"timeout": {"read": None, "write": 2}}, None),
        ({"timeout": {"read": -1, "write": 2}}, 2.0),
        ({"timeout": {"read": 1.5}}, 1.5),
        ({"timeout": {"connect": 4, "pool": 4}}, None),
        ({"timeout": httpx.Timeout(5).as_dict()}, 10.0),
        ({"timeout": httpx.Timeout(5)}, 10.0),
    ],
)
def test_convert_timeout(extensions, expected):
    assert convert_timeout(extensions) == expected


# --- against real servers ------------------------------------------------------------------


@pytest.fixture(params=["h1", "h2"])
async def kitchensink(request, make_transport, http_server, https_server):
    """An httpx.AsyncClient over pyqwest, and the kitchensink's URL, per HTTP version."""
    if request.param == "h1":
        transport, base = make_transport(), http_server.url
    else:
        transport, base = make_transport(http_version=HTTPVersion.HTTP2), https_server.url
    async with httpx.AsyncClient(transport=AsyncPyqwestTransport(transport)) as client:
        yield client, base, request.param


async def test_get_with_params_and_headers(kitchensink):
    client, base, version = kitchensink
    resp = await client.get(base + "/echo", params={"foo": "bar"}, headers={"x-hello": "w"})
    assert resp.status_code == 200
    assert resp.headers["x-echo-query-string"] == "foo=bar"
    assert resp.headers["x-echo-x-hello"] == "w"
    assert resp.headers["x-echo-host"] == base.split("://")[1]
    assert resp.http_version == ("HTTP/1.1" if version == "h1" else "HTTP/2")


async def test_buffered_and_streamed_bodies(kitchensink):
    client, base, _ = kitchensink

    async def body() -> AsyncIterator[bytes]:
        yield b"stream "
        yield b"chunks"

    assert (await client.post(base + "/echo", content=b"bytes")).content == b"bytes"
    assert (await client.post(base + "/echo", content=body())).content == b"stream chunks"


async def test_sync_stream_body_in_async_adapter(make_transport, http_server):
    # httpx.AsyncClient refuses sync streams; the transport itself pulls one on a thread
    transport = AsyncPyqwestTransport(make_transport())
    request = httpx.Request("POST", http_server.url + "/echo", content=iter([b"a", b"b"]))
    resp = await transport.handle_async_request(request)
    assert await resp.aread() == b"ab"


async def test_streamed_response_and_trailers(kitchensink):
    client, base, version = kitchensink
    async with client.stream("POST", base + "/echo", headers={"te": "trailers"},
                             content=b"x" * 100) as resp:
        body = b"".join([c async for c in resp.aiter_bytes()])
        trailers = resp.extensions["get_trailers"]()
    assert body == b"x" * 100
    assert isinstance(trailers, httpx.Headers)
    if version == "h2":
        assert trailers["x-echo-trailer"] == "last info"


async def test_error_after_headers_maps_during_iteration(make_transport, http_server):
    # HTTP/1.1: hypercorn's HTTP/2 leaves the stream open after the app failed
    transport = AsyncPyqwestTransport(make_transport())
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)) as info:
            await client.get(http_server.url + "/echo", headers={"x-error-response": "1"})
    assert isinstance(info.value.__cause__, (pyqwest.RemoteProtocolError, pyqwest.ReadError))


async def test_multipart_files_parsed_by_starlette(make_transport, starlette_server):  # noqa: F811
    for transport in (make_transport(), ASGITransport(starlette_app)):
        async with httpx.AsyncClient(transport=AsyncPyqwestTransport(transport)) as client:
            resp = await client.post(
                starlette_server.url + "/form", data={"a": "1"},
                files={"f": ("f.txt", b"file body", "text/plain")},
            )
        assert resp.json() == [
            {"name": "a", "filename": None, "content_type": None, "value": "1"},
            {"name": "f", "filename": "f.txt", "content_type": "text/plain",
             "value": "file body"},
        ]


# --- timeouts ------------------------------------------------------------------------------


@pytest.fixture(params=["hypercorn", "asgi"])
def starlette_transport(request, make_transport, starlette_server):  # noqa: F811
    """(pyqwest transport, base URL) of the Starlette app, over the network or in-process."""
    if request.param == "hypercorn":
        return make_transport(), starlette_server.url
    return ASGITransport(starlette_app), "http://testserver"


async def test_timeout_before_headers_is_read_timeout(starlette_transport):
    transport, base = starlette_transport
    async with httpx.AsyncClient(transport=AsyncPyqwestTransport(transport),
                                 timeout=0.1) as client:
        with pytest.raises(httpx.ReadTimeout) as info:
            await client.get(base + "/slow?head_delay=2")
    assert isinstance(info.value.__cause__, TimeoutError)


async def test_timeout_mid_body_is_read_timeout_after_partial_body(starlette_transport):
    transport, base = starlette_transport
    got: list[bytes] = []
    client = httpx.AsyncClient(transport=AsyncPyqwestTransport(transport), timeout=0.25)
    async with client, client.stream("GET", base + "/slow?chunks=3&delay=2") as resp:
        with pytest.raises(httpx.ReadTimeout) as info:
            async for chunk in resp.aiter_raw():
                got.append(chunk)
    assert got == [b"chunk0"]
    assert isinstance(info.value.__cause__, TimeoutError)


# --- redirects -----------------------------------------------------------------------------


async def test_redirects_followed_by_pyqwest(make_transport, starlette_server):  # noqa: F811
    async with httpx.AsyncClient(transport=AsyncPyqwestTransport(make_transport())) as client:
        resp = await client.get(starlette_server.url + "/redirect/3")
    assert (resp.status_code, resp.text, resp.history) == (200, "landed", [])


async def test_redirects_followed_by_httpx(make_transport, starlette_server):  # noqa: F811
    transport = AsyncPyqwestTransport(make_transport(follow_redirects=False))
    async with httpx.AsyncClient(transport=transport) as client:
        first = await client.get(starlette_server.url + "/redirect/3")
        assert (first.status_code, first.headers["location"]) == (302, "/redirect/2")
        resp = await client.get(starlette_server.url + "/redirect/3", follow_redirects=True)
    assert (resp.status_code, resp.text) == (200, "landed")
    assert [r.status_code for r in resp.history] == [302, 302, 302]


async def test_too_many_redirects(make_transport, starlette_server):  # noqa: F811
    transport = AsyncPyqwestTransport(make_transport(max_redirects=2))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.TooManyRedirects) as info:
            await client.get(starlette_server.url + "/redirect/3")
    assert isinstance(info.value.__cause__, pyqwest.TooManyRedirects)


# --- errors --------------------------------------------------------------------------------


async def test_connect_error(make_transport, refused_port):  # noqa: F811
    async with httpx.AsyncClient(transport=AsyncPyqwestTransport(make_transport())) as client:
        with pytest.raises(httpx.ConnectError) as info:
            await client.get(f"http://127.0.0.1:{refused_port}/")
    assert isinstance(info.value.__cause__, ConnectionError)


async def test_connect_timeout(make_transport, blackhole_port):  # noqa: F811
    transport = AsyncPyqwestTransport(make_transport(connect_timeout=0.2))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectTimeout) as info:
            await client.get(f"http://127.0.0.1:{blackhole_port}/")
    assert isinstance(info.value.__cause__, pyqwest.ConnectTimeout)


class Failing:
    """A pyqwest Transport that fails with `error`: at execute, or while the body is read."""

    def __init__(self, error: Exception, *, in_body: bool = False) -> None:
        self.error = error
        self.in_body = in_body

    async def execute(self, request: Request) -> Response:
        if not self.in_body:
            raise self.error

        async def body() -> AsyncIterator[bytes]:
            yield b"partial"
            raise self.error

        return Response(status=200, content=body())


# every pyqwest error and the httpx class it maps to (test_httpx_sync.py uses it too)
MAPPINGS = [
    (pyqwest.RemoteProtocolError("framing"), httpx.RemoteProtocolError),
    (pyqwest.TooManyRedirects("hops"), httpx.TooManyRedirects),
    (pyqwest.WriteError("w"), httpx.WriteError),
    (pyqwest.ReadError("r"), httpx.ReadError),
    (ConnectionError("refused"), httpx.ConnectError),
    (pyqwest.ConnectTimeout("slow connect"), httpx.ConnectTimeout),
    (TimeoutError("slow"), httpx.ReadTimeout),
    (StreamError("reset", StreamErrorCode.CANCEL), httpx.RemoteProtocolError),
]


@pytest.mark.parametrize("in_body", [False, True], ids=["execute", "body"])
@pytest.mark.parametrize(("error", "expected"), MAPPINGS)
async def test_error_mapping(error, expected, in_body):
    async with httpx.AsyncClient(transport=AsyncPyqwestTransport(Failing(error, in_body=in_body))
                                 ) as client:
        with pytest.raises(expected) as info:
            await client.get("http://h/")
    assert info.value.__cause__ is error
    assert type(info.value) is expected


async def test_stream_error_text_is_h2s():
    error = StreamError("reset", StreamErrorCode.CANCEL)
    async with httpx.AsyncClient(transport=AsyncPyqwestTransport(Failing(error))) as client:
        with pytest.raises(httpx.RemoteProtocolError) as info:
            await client.get("http://h/")
    assert str(info.value) == "<StreamReset stream_id:-1, error_code:8, remote_reset:True>"
    assert info.value.__cause__ is error


@pytest.mark.parametrize(
    "make",
    [lambda: httpx.Request("BAD METHOD", "http://h/"),
     lambda: httpx.Request("GET", "http://h/", headers={"bad name": "v"})],
    ids=["method", "header"],
)
async def test_invalid_request_is_local_protocol_error(make):
    transport = AsyncPyqwestTransport(ASGITransport(starlette_app))
    with pytest.raises(httpx.LocalProtocolError) as info:
        await transport.handle_async_request(make())
    assert isinstance(info.value.__cause__, ValueError)


async def test_unsupported_scheme():
    transport = AsyncPyqwestTransport(ASGITransport(starlette_app))
    with pytest.raises(httpx.UnsupportedProtocol):
        await transport.handle_async_request(httpx.Request("GET", "ftp://h/file"))


# --- the response stream -------------------------------------------------------------------


async def test_stream_consumed_and_close_closes_pyqwest_response():
    closed: list[bool] = []

    class Tracking:
        async def execute(self, request: Request) -> Response:
            async def body() -> AsyncIterator[bytes]:
                try:
                    yield b"a"
                    yield b"b"
                finally:
                    closed.append(True)

            return Response(status=200, content=body())

    transport = AsyncPyqwestTransport(Tracking())
    resp = await transport.handle_async_request(httpx.Request("GET", "http://h/"))
    stream: Any = resp.stream
    assert [c async for c in stream] == [b"a", b"b"]
    with pytest.raises(httpx.StreamConsumed):
        [c async for c in stream]
    await stream.aclose()
    assert closed == [True]

    resp = await transport.handle_async_request(httpx.Request("GET", "http://h/"))
    first = resp.stream.__aiter__()
    assert await anext(first) == b"a"
    await resp.aclose()
    await asyncio.sleep(0)
    assert closed == [True, True]


# --- the deadline --------------------------------------------------------------------------


async def test_deadline_passed_between_reads_fails_the_next_read(make_transport, http_server):
    transport = AsyncPyqwestTransport(make_transport())
    client = httpx.AsyncClient(transport=transport, timeout=0.05)
    async with client, client.stream("GET", http_server.url + "/bytes/10") as resp:
        await asyncio.sleep(0.3)  # the deadline passes while nobody reads
        with pytest.raises(httpx.ReadTimeout):
            await resp.aread()


async def test_user_cancellation_is_not_a_timeout(make_transport, starlette_server):  # noqa: F811
    transport = AsyncPyqwestTransport(make_transport())
    async with httpx.AsyncClient(transport=transport, timeout=30) as client:
        task = asyncio.ensure_future(client.get(starlette_server.url + "/slow?head_delay=5"))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
