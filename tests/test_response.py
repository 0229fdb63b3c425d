"""pyqwest.Response / FullResponse (spec 1.5, 1.6): constructors and properties, no server."""

from __future__ import annotations

import asyncio

import pytest

from pyqwest import FullResponse, Headers, HTTPVersion, RemoteProtocolError, Response


async def collect(resp: Response) -> list[bytes]:
    return [bytes(c) async for c in resp.content]


class TrackedIter:
    """Custom async iterator recording aclose()."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)
        self.closed = False

    def __aiter__(self):
        return self

    async def __anext__(self) -> bytes:
        if self.closed or not self.chunks:
            raise StopAsyncIteration
        return self.chunks.pop(0)

    async def aclose(self) -> None:
        self.closed = True


# --- Response ------------------------------------------------------------------------------


async def test_response_defaults():
    r = Response(status=200)
    assert r.status == 200
    assert r.http_version == HTTPVersion.HTTP1
    assert isinstance(r.headers, Headers)
    assert len(r.headers) == 0
    assert isinstance(r.trailers, Headers)
    assert len(r.trailers) == 0
    assert await collect(r) == []
    assert r._read_pending is False


async def test_response_fields():
    r = Response(
        status=201,
        http_version=HTTPVersion.HTTP2,
        headers=Headers({"x-a": "1"}),
        trailers=Headers({"x-t": "2"}),
    )
    assert r.status == 201
    assert r.http_version == HTTPVersion.HTTP2
    assert r.headers == {"x-a": "1"}
    assert r.trailers == {"x-t": "2"}


@pytest.mark.parametrize("status", [100, 200, 599, 999])
def test_response_status_bounds_ok(status):
    assert Response(status=status).status == status


@pytest.mark.parametrize("status", [-1, 0, 99, 1000, 65536])
def test_response_status_out_of_range(status):
    with pytest.raises(RemoteProtocolError):
        Response(status=status)


def test_response_status_keyword_only():
    with pytest.raises(TypeError):
        Response(200)  # type: ignore[misc]


async def test_response_bytes_content_one_chunk():
    r = Response(status=200, content=b"hello")
    assert await collect(r) == [b"hello"]


async def test_response_custom_iterator_returned_as_is():
    it = TrackedIter([b"a", b"b"])
    r = Response(status=200, content=it)
    assert r.content is it
    assert await collect(r) == [b"a", b"b"]


async def test_response_aclose_closes_custom_content():
    it = TrackedIter([b"a"])
    r = Response(status=200, content=it)
    await r.aclose()
    assert it.closed


async def test_response_aclose_idempotent():
    it = TrackedIter([b"a"])
    r = Response(status=200, content=it)
    await r.aclose()
    await r.aclose()
    assert it.closed


async def test_response_async_with_closes():
    it = TrackedIter([b"a"])
    async with Response(status=200, content=it) as r:
        assert r.status == 200
    assert it.closed


async def test_response_reads_after_close_stop():
    r = Response(status=200, content=b"hello")
    await r.aclose()
    assert await collect(r) == []


async def test_response_aclose_awaitable_with_ensure_future():
    r = Response(status=200, content=b"x")
    await asyncio.ensure_future(r.aclose())


async def test_response_anext_awaitable_with_ensure_future():
    r = Response(status=200, content=b"abc")
    chunk = await asyncio.ensure_future(r.content.__anext__())
    assert bytes(chunk) == b"abc"


async def test_response_awaitables_with_yield_from():
    r = Response(status=200, content=b"abc")

    def legacy():  # generator-based coroutine style: drive the awaitables via __await__
        chunk = yield from r.content.__anext__().__await__()
        yield from r.aclose().__await__()
        return chunk

    assert bytes(await _GenAwaitable(legacy())) == b"abc"


class _GenAwaitable:
    def __init__(self, gen):
        self.gen = gen

    def __await__(self):
        return (yield from self.gen)


# --- FullResponse --------------------------------------------------------------------------


def test_full_response_properties():
    h = Headers({"content-type": "text/plain"})
    t = Headers({"x-t": "1"})
    r = FullResponse(200, h, b"body", t)
    assert r.status == 200
    assert r.headers == {"content-type": "text/plain"}
    assert r.content == b"body"
    assert r.trailers == {"x-t": "1"}


def test_full_response_text_default_utf8():
    r = FullResponse(200, Headers(), "héllo ✓".encode(), Headers())
    assert r.text() == "héllo ✓"


def test_full_response_text_charset_shift_jis():
    text = "こんにちは、世界"
    h = Headers({"content-type": "text/plain; charset=shift_jis"})
    r = FullResponse(200, h, text.encode("shift_jis"), Headers())
    assert r.text() == text


def test_full_response_text_charset_latin1():
    h = Headers({"content-type": "text/html; charset=iso-8859-1"})
    r = FullResponse(200, h, "café".encode("latin-1"), Headers())
    assert r.text() == "café"


@pytest.mark.parametrize(
    "charset", ["base64", "rot13", "hex", "zlib", "idna", "undefined", "no-such-codec", ""]
)
def test_full_response_text_charset_not_a_text_codec_falls_back_to_utf8(charset):
    """The server picks the charset: one that is no text codec must not make text() raise;
    UTF-8 with replacement, as httpx."""
    h = Headers({"content-type": f"text/plain; charset={charset}"})
    r = FullResponse(200, h, "café ✓".encode() + b"\xff", Headers())
    assert r.text() == "café ✓\ufffd"


def test_full_response_json():
    r = FullResponse(200, Headers(), b'{"a": [1, 2], "b": null}', Headers())
    assert r.json() == {"a": [1, 2], "b": None}


def test_full_response_json_ignores_content_type():
    r = FullResponse(200, Headers({"content-type": "text/plain"}), b"[1, 2, 3]", Headers())
    assert r.json() == [1, 2, 3]


def test_full_response_json_invalid_raises():
    import json

    r = FullResponse(200, Headers(), b"not json", Headers())
    with pytest.raises(json.JSONDecodeError):
        r.json()


async def test_text_with_server_chosen_base64_charset(client, scripted):
    from servers.scripted import canned

    scripted.handler = canned(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=base64\r\n"
        b"content-length: 5\r\n\r\nhello"
    )
    resp = await client.get(scripted.url + "/")
    assert resp.text() == "hello"
