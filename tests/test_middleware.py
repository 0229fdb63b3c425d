"""Custom transports under Client (API.md §1.11, §4 test_middleware): middleware that rewrites
requests, fabricates responses, or wraps a real one (kitchensink over h2c) while its trailers
still arrive."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pyqwest import Client, Headers, HTTPVersion, Request, Response, Transport

HEADERS = [("content-type", "text/plain"), ("x-hello", "rust"), ("x-hello", "python")]
TE = [("content-type", "text/plain"), ("te", "trailers")]


@pytest.fixture
def upstream(make_transport):
    return make_transport(http_version=HTTPVersion.HTTP2)


@pytest.fixture
def echo_url(http_server):
    return http_server.url + "/echo"


def fabricated() -> Response:
    return Response(
        status=201,
        http_version=HTTPVersion.HTTP3,
        headers=Headers((("override-1", "yes"), ("override-1", "definitely"),
                         ("override-2", "sure"))),
        content=b"Overridden!",
        trailers=Headers({"final-trailer": "bye"}),
    )


class Fabricate(Transport):
    async def execute(self, request: Request) -> Response:
        return fabricated()


async def read(content: AsyncIterator[bytes]) -> bytes:
    return b"".join([bytes(c) async for c in content])


def test_custom_transport_is_a_transport():
    assert isinstance(Fabricate(), Transport)


async def test_rewritten_request(upstream, echo_url):
    class Override(Transport):
        async def execute(self, request: Request) -> Response:
            return await upstream.execute(Request(
                "PUT", f"{request.url}?override=true", Headers({"x-override": "yes"}),
                b"Goodbye",
            ))

    resp = await Client(Override()).post(echo_url, HEADERS, b"Hello, World!")
    assert (resp.status, resp.content) == (200, b"Goodbye")
    assert resp.headers["x-echo-method"] == "PUT"
    assert resp.headers["x-echo-query-string"] == "override=true"
    assert resp.headers["x-echo-x-override"] == "yes"
    assert "x-echo-x-hello" not in resp.headers


async def test_fabricated_response_stream(echo_url):
    async with Client(Fabricate()).stream("POST", echo_url, HEADERS, b"x") as resp:
        content = await read(resp.content)
    assert resp.status == 201
    assert resp.http_version == HTTPVersion.HTTP3
    assert resp.headers.getall("override-1") == ["yes", "definitely"]
    assert (resp.headers["override-2"], content) == ("sure", b"Overridden!")
    assert resp.trailers == {"final-trailer": "bye"}


async def test_fabricated_response_execute(echo_url):
    resp = await Client(Fabricate()).execute("POST", echo_url, HEADERS, b"x")
    assert (resp.status, resp.content) == (201, b"Overridden!")
    assert resp.headers.getall("override-1") == ["yes", "definitely"]
    assert resp.trailers == {"final-trailer": "bye"}


async def test_upstream_content_reused(upstream, echo_url):
    class Override(Transport):
        async def execute(self, request: Request) -> Response:
            res = await upstream.execute(request)
            return Response(status=201, headers=Headers({"override-2": "sure"}),
                            content=res.content, trailers=Headers({"final-trailer": "bye"}))

    resp = await Client(Override()).post(echo_url, HEADERS, b"Hello, World!")
    assert (resp.status, resp.content) == (201, b"Hello, World!")
    assert resp.trailers == {"final-trailer": "bye"}


async def test_wrapped_chunks_keep_upstream_trailers(upstream, echo_url):
    class Mark(Transport):
        async def execute(self, request: Request) -> Response:
            response = await upstream.execute(request)

            async def marked() -> AsyncIterator[bytes]:
                async for chunk in response.content:
                    yield b"mark:" + chunk

            return Response(status=response.status, http_version=response.http_version,
                            headers=response.headers, content=marked(),
                            trailers=response.trailers)

    async with Client(Mark()).stream("POST", echo_url, TE, b"Hello, World!") as resp:
        content = await read(resp.content)
    assert (resp.status, resp.http_version, content) == (
        200, HTTPVersion.HTTP2, b"mark:Hello, World!"
    )
    assert resp.headers["x-echo-te"] == "trailers"
    assert resp.trailers["x-echo-trailer"] == "last info"

    full = await Client(Mark()).post(echo_url, TE, b"again")
    assert (full.content, full.trailers["x-echo-trailer"]) == (b"mark:again", "last info")


async def test_replaced_trailers(upstream, echo_url):
    class Override(Transport):
        async def execute(self, request: Request) -> Response:
            r = await upstream.execute(request)
            return Response(status=r.status, http_version=r.http_version, headers=r.headers,
                            content=r.content, trailers=Headers({"final-trailer": "bye"}))

    async with Client(Override()).stream("POST", echo_url, TE, b"Hello") as resp:
        assert await read(resp.content) == b"Hello"
    assert resp.trailers == {"final-trailer": "bye"}


async def test_wrapped_content_closed_when_stream_exits(upstream, echo_url):
    closed: list[bool] = []

    class Wrap(Transport):
        async def execute(self, request: Request) -> Response:
            r = await upstream.execute(request)

            async def wrapped() -> AsyncIterator[bytes]:
                try:
                    async for chunk in r.content:
                        yield chunk
                finally:
                    await r.aclose()
                    closed.append(True)

            return Response(status=r.status, content=wrapped())

    async with Client(Wrap()).stream("POST", echo_url, TE, b"abc") as resp:
        assert bytes(await anext(resp.content)) == b"abc"
    assert closed == [True]
