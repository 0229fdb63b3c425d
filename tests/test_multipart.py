"""Multipart, Part, SyncMultipart, SyncPart and their encoders (API.md §3.4, §1.3).

Bodies are parsed back with python-multipart (the parser Starlette and FastAPI use) and sent
through a real server: Starlette's form parsing under hypercorn, over HTTP/1.1 and HTTP/2.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from python_multipart.multipart import MultipartParser, parse_options_header
from servers.starlette_app import starlette_server, starlette_tls_server  # noqa: F401

from pyqwest import (
    Client,
    Headers,
    HTTPVersion,
    Multipart,
    Part,
    Request,
    SyncMultipart,
    SyncPart,
    WriteError,
)
from pyqwest._multipart import encode_multipart, encode_multipart_sync

B = "0123456789abcdef0123456789abcdef"


def parse(body: bytes, boundary: str = B) -> list[dict[str, Any]]:
    """The parts of `body` as python-multipart sees them."""
    parts: list[dict[str, Any]] = []
    header_name = b""

    def on_part_begin() -> None:
        parts.append({"headers": {}, "data": b""})

    def on_header_field(data: bytes, start: int, end: int) -> None:
        nonlocal header_name
        header_name += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        nonlocal header_name
        parts[-1]["headers"][header_name.decode().lower()] = data[start:end].decode()
        header_name = b""

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1]["data"] += data[start:end]

    parser = MultipartParser(boundary.encode(), {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field,
        "on_header_value": on_header_value, "on_part_data": on_part_data,
    })
    parser.write(body)
    parser.finalize()
    for part in parts:
        _, options = parse_options_header(part["headers"]["content-disposition"])
        part["name"] = options[b"name"].decode()
        part["filename"] = options[b"filename"].decode() if b"filename" in options else None
    return parts


async def agen(*chunks: bytes) -> AsyncIterator[bytes]:
    for c in chunks:
        yield c


async def collect(mp: Multipart, boundary: str = B) -> bytes:
    return b"".join([c async for c in encode_multipart(mp, boundary)])


# --- wire format ---------------------------------------------------------------------------


async def test_wire_format_exact():
    mp = Multipart([
        ("a", b"1"),
        ("f", Part("x", filename="n.txt", headers={"Content-Type": "text/plain"})),
    ])
    assert await collect(mp) == (
        f"--{B}\r\ncontent-disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
        f"--{B}\r\ncontent-disposition: form-data; name=\"f\"; filename=\"n.txt\"\r\n"
        f"content-type: text/plain\r\n\r\nx\r\n--{B}--\r\n"
    ).encode()


def test_sync_wire_format_matches_async():
    mp = SyncMultipart([("a", b"1"), ("s", SyncPart([b"x", b"y"], filename="s.bin"))])
    body = b"".join(encode_multipart_sync(mp, B))
    assert body == (
        f"--{B}\r\ncontent-disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
        f"--{B}\r\ncontent-disposition: form-data; name=\"s\"; filename=\"s.bin\"\r\n\r\n"
        f"xy\r\n--{B}--\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ('a"b\r\nc', "a%22b%0D%0Ac"),
        ('f"\r\n /%.txt', "f%22%0D%0A%20%2F%25.txt"),
        ("<>`#?{}", "%3C%3E%60%23%3F%7B%7D"),
        ("\x00\x1f\x7f", "%00%1F%7F"),
        ("ünï-cödé_ok.~!", "ünï-cödé_ok.~!"),
    ],
)
async def test_name_and_filename_escaping(raw, escaped):
    body = await collect(Multipart([(raw, Part(b"x", filename=raw))]))
    assert f'name="{escaped}"; filename="{escaped}"'.encode() in body


async def test_part_headers_lowercase_and_parsed_back():
    mp = Multipart([("f", Part(b"data", filename="a.bin", headers=[("X-Thing", "1")]))])
    (part,) = parse(await collect(mp))
    assert part["headers"]["x-thing"] == "1"
    assert b"x-thing: 1\r\n" in await collect(mp)


async def test_streamed_parts_parse_back():
    mp = Multipart([
        ("first", Part(agen(b"first ", b"stream"))),
        ("plain", "text value"),
        ("second", Part(agen(b"second ", b"stream"), filename="s.bin")),
    ])
    parsed = parse(await collect(mp))
    assert [(p["name"], p["filename"], p["data"]) for p in parsed] == [
        ("first", None, b"first stream"),
        ("plain", None, b"text value"),
        ("second", "s.bin", b"second stream"),
    ]


async def test_buffered_pieces_are_joined():
    mp = Multipart([("a", b"1"), ("b", Part(agen(b"s"))), ("c", b"3")])
    chunks = [c async for c in encode_multipart(mp, B)]
    assert chunks[1] == b"s"
    assert len(chunks) == 3


# --- construction --------------------------------------------------------------------------


def test_items_only_mapping():
    class OnlyItems:
        def items(self) -> list[tuple[str, bytes]]:
            return [("field", b"value")]

    mp = Multipart(OnlyItems())  # type: ignore[arg-type]
    ((name, part),) = mp.parts
    assert (name, part.content, part.filename) == ("field", b"value", None)


def test_parts_is_a_new_list_and_values_are_wrapped():
    mp = Multipart({"a": "text", "b": b"raw"})
    parts = mp.parts
    parts.clear()
    assert [(n, p.content) for n, p in mp.parts] == [("a", b"text"), ("b", b"raw")]
    assert all(isinstance(p, Part) for _, p in mp.parts)


def test_part_properties():
    h = Headers({"content-type": "image/png"})
    p = Part("é", filename="x.png", headers=h)
    assert (p.content, p.filename, p.headers) == ("é".encode(), "x.png", h)
    assert p.headers is h
    assert SyncPart(b"x", headers={"a": "b"}).headers == {"a": "b"}


@pytest.mark.parametrize("cls", [Part, SyncPart, Multipart, SyncMultipart])
def test_classes_are_final(cls):
    with pytest.raises(TypeError):
        type("Sub", (cls,), {})


def test_bad_part_header_value():
    with pytest.raises(ValueError, match="Invalid header value"):
        Part(b"x", headers={"x": "a\r\nb"})


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Part(10), "Part content must be bytes, str, or an async iterator of bytes"),
        (lambda: Part(iter([b"x"])),
         "Part content must be bytes, str, or an async iterator of bytes"),
        (lambda: SyncPart(10), "Part content must be bytes, str, or an iterable of bytes"),
        (lambda: Part(b"x", filename=3), "Part filename must be str or None"),
        (lambda: Multipart([(10, b"x")]), "Part name must be str"),
        (lambda: Multipart([("a", 10)]), "Multipart values must be Part, bytes or str, not int"),
        (lambda: Multipart([("a", SyncPart(b"x"))]),
         "Multipart values must be Part, bytes or str, not SyncPart"),
        (lambda: SyncMultipart([("a", Part(b"x"))]),
         "Multipart values must be SyncPart, bytes or str, not Part"),
    ],
)
def test_invalid_parts(make, message):
    with pytest.raises(TypeError, match=f"^{message}$"):
        make()


# --- part streams are closed ---------------------------------------------------------------


class TrackedStream:
    """An async part stream that records being closed."""

    def __init__(self, *chunks: bytes) -> None:
        self._chunks = list(chunks)
        self.closed = False

    def __aiter__(self) -> TrackedStream:
        return self

    async def __anext__(self) -> bytes:
        if not self._chunks:
            raise StopAsyncIteration
        return self._chunks.pop(0)

    async def aclose(self) -> None:
        self.closed = True


async def test_part_streams_closed_at_end():
    a, b = TrackedStream(b"1"), TrackedStream(b"2")
    await collect(Multipart([("a", Part(a)), ("b", Part(b))]))
    assert a.closed and b.closed


async def test_aborted_encoding_closes_every_part_stream():
    a, b = TrackedStream(b"1", b"2"), TrackedStream(b"3")
    gen = encode_multipart(Multipart([("a", Part(a)), ("b", Part(b))]), B)
    await gen.__anext__()  # head of a
    await gen.__anext__()  # b"1"
    await gen.aclose()
    assert a.closed and b.closed


def test_sync_aborted_encoding_closes_part_streams():
    closed = []

    def stream(tag: str) -> Iterator[bytes]:
        try:
            yield tag.encode()
            yield tag.encode()
        finally:
            closed.append(tag)

    gen = encode_multipart_sync(SyncMultipart([("a", SyncPart(stream("a")))]), B)
    next(gen)
    next(gen)
    gen.close()
    assert closed == ["a"]


async def test_request_body_closed_before_start_closes_part_streams():
    a = TrackedStream(b"1")
    req = Request("POST", "http://127.0.0.1/", content=Multipart([("a", Part(a))]))
    await req.content.aclose()  # type: ignore[union-attr]
    assert a.closed


async def test_connection_failure_closes_part_streams(make_transport):
    a = TrackedStream(b"1")
    client = Client(make_transport())
    with pytest.raises(ConnectionError):
        await client.post("http://127.0.0.1:1/", content=Multipart([("a", Part(a))]))
    gc.collect()
    assert a.closed


async def test_failing_part_stream_is_a_write_error(make_transport, starlette_server):  # noqa: F811
    async def failing() -> AsyncIterator[bytes]:
        yield b"first"
        raise RuntimeError("Test error")

    client = Client(make_transport())
    with pytest.raises(WriteError, match=r"^Request failed: Test error$"):
        await client.post(starlette_server.url + "/form",
                          content=Multipart([("a", Part(failing()))]))


# --- through a real server -----------------------------------------------------------------


@pytest.fixture(params=["h1", "h2"])
async def form_url(request, make_transport, starlette_server, starlette_tls_server):  # noqa: F811
    """(client, url of /form) over HTTP/1.1 (plaintext) and HTTP/2 (TLS)."""
    if request.param == "h1":
        return Client(make_transport()), starlette_server.url + "/form"
    return (Client(make_transport(http_version=HTTPVersion.HTTP2)),
            starlette_tls_server.url + "/form")


async def test_starlette_parses_the_form(form_url):
    client, url = form_url
    mp = Multipart([
        ("field", "hello world"),
        ("data", b"\x00\x01binary"),
        ("file", Part(b"file content", filename="hello.txt")),
        ("stream", Part(agen(b"stream ", b"chunks"), filename="stream.bin",
                        headers={"content-type": "application/octet-stream"})),
    ])
    resp = await client.post(url, content=mp)
    assert resp.status == 200
    assert resp.json() == [
        {"name": "field", "filename": None, "content_type": None, "value": "hello world"},
        {"name": "data", "filename": None, "content_type": None, "value": "\x00\x01binary"},
        {"name": "file", "filename": "hello.txt", "content_type": None,
         "value": "file content"},
        {"name": "stream", "filename": "stream.bin", "content_type": "application/octet-stream",
         "value": "stream chunks"},
    ]


async def test_bare_multipart_content_type_gains_boundary_on_the_wire(form_url):
    client, url = form_url
    resp = await client.post(url, {"content-type": "multipart/form-data"},
                             Multipart({"k": "v"}))
    assert resp.json() == [{"name": "k", "filename": None, "content_type": None, "value": "v"}]


async def test_stream_of_a_multipart_request(form_url):
    client, url = form_url
    async with client.stream("POST", url, content=Multipart({"k": Part(agen(b"v"))})) as resp:
        body = b"".join([bytes(c) async for c in resp.content])
    assert body == b'[{"name":"k","filename":null,"content_type":null,"value":"v"}]'
