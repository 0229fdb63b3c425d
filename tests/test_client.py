"""pyqwest.Client over real HTTP/1.1 (spec 1.2, 1.3, 1.12 and section 4 "test_client.py")."""

from __future__ import annotations

import asyncio
import gc
import json
import re

import pytest
from servers import payload
from servers.scripted import canned, keep_alive

import pyqwest
from pyqwest import Client, FullResponse, Headers, HTTPVersion, ReadError, RemoteProtocolError

CONTENT_TYPE_ERROR = "Content must be bytes, an async iterator of bytes, or Multipart"
MiB = 1024 * 1024


async def agen(chunks):
    for c in chunks:
        yield c


async def read_all(resp) -> bytes:
    out = bytearray()
    async for chunk in resp.content:
        out += chunk
    return bytes(out)


# --- methods -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "delete", "head", "options"])
async def test_bodyless_helper_sets_method(client, http_server, method):
    resp = await getattr(client, method)(http_server.url + "/echo")
    assert isinstance(resp, FullResponse)
    assert resp.status == 200
    assert resp.headers["x-echo-method"] == method.upper()


@pytest.mark.parametrize("method", ["post", "put", "patch"])
async def test_body_helper_sets_method_and_sends_content(client, http_server, method):
    resp = await getattr(client, method)(http_server.url + "/echo", content=b"payload")
    assert resp.status == 200
    assert resp.headers["x-echo-method"] == method.upper()
    assert resp.content == b"payload"


@pytest.mark.parametrize("method", ["GET", "POST", "TRACE", "CUSTOM"])
async def test_execute_sets_method(client, http_server, method):
    resp = await client.execute(method, http_server.url + "/echo")
    assert resp.status == 200
    assert resp.headers["x-echo-method"] == method


async def test_execute_with_content_and_params(client, http_server):
    resp = await client.execute(
        "PUT", http_server.url + "/echo", {"x-a": "1"}, b"abc", params={"p": "q"}
    )
    assert resp.headers["x-echo-method"] == "PUT"
    assert resp.headers["x-echo-x-a"] == "1"
    assert resp.headers["x-echo-query-string"] == "p=q"
    assert resp.content == b"abc"


# --- headers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        Headers({"x-test": "foo", "x-other": "bar"}),
        {"x-test": "foo", "x-other": "bar"},
        [("x-test", "foo"), ("x-other", "bar")],
    ],
    ids=["Headers", "mapping", "pairs"],
)
async def test_request_headers_forms(client, http_server, headers):
    resp = await client.get(http_server.url + "/echo", headers)
    assert resp.headers["x-echo-x-test"] == "foo"
    assert resp.headers["x-echo-x-other"] == "bar"


async def test_duplicate_request_headers_keep_order(client, http_server):
    resp = await client.get(
        http_server.url + "/echo", [("x-dup", "first"), ("x-dup", "second"), ("x-dup", "third")]
    )
    assert resp.headers.getall("x-echo-x-dup") == ["first", "second", "third"]


async def test_duplicate_headers_from_headers_add(client, http_server):
    h = Headers()
    h.add("x-dup", "a")
    h.add("x-dup", "b")
    resp = await client.get(http_server.url + "/echo", h)
    assert resp.headers.getall("x-echo-x-dup") == ["a", "b"]


async def test_host_header_ip(client, http_server):
    resp = await client.get(http_server.url + "/echo")
    assert resp.headers.getall("x-echo-host") == [f"127.0.0.1:{http_server.port}"]


async def test_host_header_localhost(client, http_server):
    resp = await client.get(f"http://localhost:{http_server.port}/echo")
    assert resp.status == 200
    assert resp.headers.getall("x-echo-host") == [f"localhost:{http_server.port}"]


async def test_host_header_ipv6(client, scripted_factory):
    server = scripted_factory(
        keep_alive(lambda conn, req: (req.header("host") or "").encode()), host="::1"
    )
    resp = await client.get(f"http://[::1]:{server.port}/")
    assert resp.content == f"[::1]:{server.port}".encode()


async def test_custom_host_header_kept(client, scripted):
    scripted.handler = keep_alive(lambda conn, req: ",".join(req.getall("host")).encode())
    resp = await client.get(scripted.url + "/", {"host": "custom.example"})
    assert resp.content == b"custom.example"


async def test_passed_headers_object_not_modified_by_json(client, http_server):
    h = Headers({"x-a": "1"})
    resp = await client.post(http_server.url + "/echo", h, content={"k": "v"})
    assert resp.headers["x-echo-content-type"] == "application/json"
    assert h == {"x-a": "1"}


async def test_default_request_headers(client, scripted):
    """The wire request is well-formed HTTP/1.1 with a host header and no body framing on GET."""
    scripted.handler = keep_alive()
    await client.get(scripted.url + "/path?x=1")
    req = scripted.connections[0].requests[0]
    assert req.method == "GET"
    assert req.target == "/path?x=1"
    assert req.version == "HTTP/1.1"
    assert req.header("host") == f"127.0.0.1:{scripted.port}"
    assert req.header("transfer-encoding") is None
    assert req.header("content-length") in (None, "0")


# --- params ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "query"),
    [
        ({"foo": "bar"}, "foo=bar"),
        ({"key1": "value1", "key2": None}, "key1=value1&key2"),
        ([("a", "1"), ("a", "2")], "a=1&a=2"),
        ({"key": "value with spaces"}, "key=value+with+spaces"),
        ({"key": "value/with/special?chars&"}, "key=value%2Fwith%2Fspecial%3Fchars%26"),
    ],
    ids=["simple", "bare-key", "repeated", "spaces", "special"],
)
async def test_params_on_wire(client, http_server, params, query):
    resp = await client.get(http_server.url + "/echo", params=params)
    assert resp.headers["x-echo-query-string"] == query


async def test_params_appended_to_existing_query(client, http_server):
    resp = await client.get(http_server.url + "/echo?a=1", params={"b": "2"})
    assert resp.headers["x-echo-query-string"] == "a=1&b=2"


async def test_params_on_post(client, http_server):
    resp = await client.post(http_server.url + "/echo", content=b"x", params={"foo": "bar"})
    assert resp.headers["x-echo-query-string"] == "foo=bar"


async def test_unicode_path_and_query_arrive_percent_encoded(client, http_server):
    resp = await client.get(http_server.url + "/echo/日本?q=語")
    assert resp.headers["x-echo-raw-path"] == "/echo/%E6%97%A5%E6%9C%AC"
    assert resp.headers["x-echo-query-string"] == "q=%E8%AA%9E"


# --- content ---------------------------------------------------------------------------------


async def test_content_bytes(client, http_server):
    resp = await client.post(http_server.url + "/echo", content=b"hello world")
    assert resp.content == b"hello world"
    assert resp.headers["x-echo-content-length"] == "11"


async def test_content_bytearray(client, http_server):
    resp = await client.post(http_server.url + "/echo", content=bytearray(b"hello"))
    assert resp.content == b"hello"


async def test_content_dict_is_json(client, http_server):
    resp = await client.post(http_server.url + "/echo", content={"message": "Hello, World!"})
    assert resp.content == b'{"message": "Hello, World!"}'
    assert resp.headers.getall("x-echo-content-type") == ["application/json"]
    assert resp.json() == {"message": "Hello, World!"}


async def test_content_dict_keeps_given_content_type(client, http_server):
    resp = await client.post(
        http_server.url + "/echo",
        {"content-type": "text/plain"},
        content={"message": "Hello, World!"},
    )
    assert resp.content == b'{"message": "Hello, World!"}'
    assert resp.headers.getall("x-echo-content-type") == ["text/plain"]


async def test_content_async_generator_sent_chunked(client, http_server):
    chunks = [f"chunk-{i:03d};".encode() for i in range(100)]
    resp = await client.post(http_server.url + "/echo", content=agen(chunks))
    assert resp.status == 200
    assert resp.content == b"".join(chunks)
    assert resp.headers["x-echo-transfer-encoding"] == "chunked"
    assert "x-echo-content-length" not in resp.headers


async def test_content_async_generator_varied_chunk_sizes(client, http_server):
    """Bytes chunks of various sizes, including empty ones, arrive intact."""
    chunks = [b"a", b"", b"bc" * 1000, b"", b"d"]
    resp = await client.post(http_server.url + "/echo", content=agen(chunks))
    assert resp.content == b"".join(chunks)


@pytest.mark.parametrize(
    "content", ["a string", 42, ["list"], object()], ids=["str", "int", "list", "object"]
)
async def test_content_wrong_type(client, http_server, content):
    with pytest.raises(TypeError, match=f"^{re.escape(CONTENT_TYPE_ERROR)}$"):
        await client.post(http_server.url + "/echo", content=content)


async def test_empty_get_has_empty_body(client, http_server):
    resp = await client.get(http_server.url + "/echo")
    assert resp.content == b""
    assert isinstance(resp.content, bytes)


async def test_text_and_json(client, http_server):
    body = json.dumps({"a": "é"}).encode()
    resp = await client.post(
        http_server.url + "/echo", {"content-type": "application/json"}, content=body
    )
    assert resp.text() == '{"a": "\\u00e9"}'
    assert resp.json() == {"a": "é"}


async def test_text_uses_charset(client, http_server):
    text = "こんにちは"
    resp = await client.post(
        http_server.url + "/echo",
        {"content-type": "text/plain; charset=shift_jis"},
        content=text.encode("shift_jis"),
    )
    assert resp.text() == text


# --- large bodies / framing ------------------------------------------------------------------


async def test_large_upload_bytes(client, http_server):
    body = payload(8 * MiB, offset=7)
    resp = await client.post(http_server.url + "/echo", content=body)
    assert len(resp.content) == len(body)
    assert resp.content == body


async def test_large_upload_streamed(client, http_server):
    body = payload(4 * MiB, offset=3)
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    resp = await client.post(http_server.url + "/echo", content=agen(chunks))
    assert resp.content == body


async def test_large_download_content_length(client, http_server):
    resp = await client.get(http_server.url + f"/bytes/{8 * MiB}")
    assert resp.headers["content-length"] == str(8 * MiB)
    assert resp.content == payload(8 * MiB)


async def test_large_download_streamed(client, http_server):
    async with client.stream("GET", http_server.url + f"/bytes/{6 * MiB}") as resp:
        assert resp.status == 200
        data = await read_all(resp)
    assert data == payload(6 * MiB)


async def test_chunked_response(client, http_server):
    resp = await client.get(http_server.url + "/chunked/100000?chunks=7")
    assert "content-length" not in resp.headers
    assert resp.headers["transfer-encoding"] == "chunked"
    assert resp.content == payload(100000)


async def test_body_delimited_by_close(client, scripted):
    scripted.handler = canned(b"HTTP/1.1 200 OK\r\nx-a: 1\r\n\r\nuntil the end", then="close")
    resp = await client.get(scripted.url + "/")
    assert resp.status == 200
    assert resp.content == b"until the end"


async def test_http10_response(client, scripted):
    scripted.handler = canned(b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok", then="close")
    resp = await client.get(scripted.url + "/")
    assert resp.status == 200
    assert resp.content == b"ok"


async def test_reason_phrase_and_status_kept(client, scripted):
    scripted.handler = canned(b"HTTP/1.1 299 Whatever You Like\r\ncontent-length: 0\r\n\r\n")
    resp = await client.get(scripted.url + "/")
    assert resp.status == 299
    assert resp.content == b""


async def test_response_header_case_and_duplicates(client, scripted):
    scripted.handler = canned(
        b"HTTP/1.1 200 OK\r\nX-Multi: one\r\nContent-Length: 0\r\nx-multi: two\r\n"
        b"X-Empty:\r\nX-Spaces:   padded value  \r\n\r\n"
    )
    resp = await client.get(scripted.url + "/")
    assert resp.headers.getall("x-multi") == ["one", "two"]
    assert resp.headers["x-empty"] == ""
    assert resp.headers["x-spaces"] == "padded value"


# --- HEAD / bodiless responses ---------------------------------------------------------------


async def test_head_has_no_body(client, http_server):
    resp = await client.head(http_server.url + "/bytes/1000")
    assert resp.status == 200
    assert resp.headers["content-length"] == "1000"
    assert resp.content == b""


async def test_head_with_content_length_does_not_desync_connection(client, scripted):
    """HEAD response declares a body it does not send; the kept-alive connection stays usable."""

    async def handler(conn):
        req = await conn.read_request()
        assert req.method == "HEAD"
        await conn.send(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
        req = await conn.read_request()
        assert req is not None
        await conn.send_response(200, b"second")
        await conn.wait_client_close()

    scripted.handler = handler
    first = await client.head(scripted.url + "/")
    assert first.content == b""
    assert first.headers["content-length"] == "1000"
    second = await asyncio.wait_for(client.get(scripted.url + "/"), 10)
    assert second.content == b"second"
    assert scripted.accepted == 1


@pytest.mark.parametrize("status", [204, 304])
async def test_bodiless_status_with_content_length(client, scripted, status):
    async def handler(conn):
        await conn.read_request()
        await conn.send(f"HTTP/1.1 {status} X\r\ncontent-length: 5\r\n\r\n".encode())
        req = await conn.read_request()
        if req is not None:
            await conn.send_response(200, b"next")
        await conn.wait_client_close()

    scripted.handler = handler
    first = await client.get(scripted.url + "/")
    assert first.status == status
    assert first.content == b""
    second = await asyncio.wait_for(client.get(scripted.url + "/"), 10)
    assert second.content == b"next"


# --- stream() --------------------------------------------------------------------------------


async def test_stream_async_with(client, http_server):
    async with client.stream("GET", http_server.url + "/chunked/5000?chunks=5") as resp:
        assert resp.status == 200
        assert isinstance(resp, pyqwest.Response)
        data = bytearray()
        async for chunk in resp.content:
            data += chunk
    assert bytes(data) == payload(5000)


async def test_stream_await_form(client, http_server):
    resp = await client.stream("POST", http_server.url + "/echo", content=b"awaited")
    async with resp:
        assert resp.status == 200
        assert await read_all(resp) == b"awaited"


async def test_stream_sends_headers_and_params(client, http_server):
    async with client.stream(
        "GET", http_server.url + "/echo", {"x-a": "b"}, params={"q": "1"}
    ) as resp:
        assert resp.headers["x-echo-x-a"] == "b"
        assert resp.headers["x-echo-query-string"] == "q=1"
        assert await read_all(resp) == b""


async def test_stream_is_lazy_until_entered(client, scripted):
    scripted.handler = keep_alive()
    cm = client.stream("GET", scripted.url + "/")
    await asyncio.sleep(0.1)
    assert scripted.accepted == 0
    async with cm as resp:
        assert await read_all(resp) == b"ok"
    assert scripted.accepted == 1


async def test_http_version_http1_on_plain_http(client, http_server):
    async with client.stream("GET", http_server.url + "/echo") as resp:
        assert resp.http_version == HTTPVersion.HTTP1
        await read_all(resp)


@pytest.mark.parametrize(
    ("scheme", "forced", "expected"),
    [
        ("http", None, HTTPVersion.HTTP1),
        ("http", HTTPVersion.HTTP1, HTTPVersion.HTTP1),
        ("http", HTTPVersion.HTTP2, HTTPVersion.HTTP2),
        ("https", None, HTTPVersion.HTTP2),
        ("https", HTTPVersion.HTTP1, HTTPVersion.HTTP1),
        ("https", HTTPVersion.HTTP2, HTTPVersion.HTTP2),
    ],
    ids=["http-auto", "http-h1", "http-h2c", "https-auto", "https-h1", "https-h2"],
)
async def test_http_version_matches_forced(
    make_transport, http_server, https_server, scheme, forced, expected
):
    server = https_server if scheme == "https" else http_server
    client = Client(make_transport(http_version=forced))
    async with client.stream("POST", server.url + "/echo", content=b"v") as resp:
        assert resp.http_version == expected
        assert await read_all(resp) == b"v"


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_full_duplex_echo(client, http_server, https_server, scheme):
    """Response chunks are read while the request body is still being produced (h1 on http,
    ALPN-negotiated h2 on https), then the echo server's trailers arrive (h2 + te only)."""
    server = https_server if scheme == "https" else http_server
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def body():
        while True:
            item = await queue.get()
            if item is None:
                return
            yield item

    chunks = [f"duplex-{i}".encode() * 10 for i in range(10)]
    await queue.put(chunks[0])
    async with client.stream(
        "POST", server.url + "/echo", {"te": "trailers"}, content=body()
    ) as resp:
        assert resp.status == 200
        it = resp.content.__aiter__()
        for i, chunk in enumerate(chunks):
            got = bytearray()
            while len(got) < len(chunk):
                got += await asyncio.wait_for(it.__anext__(), 10)
            assert bytes(got) == chunk
            await queue.put(chunks[i + 1] if i + 1 < len(chunks) else None)
        rest = await asyncio.wait_for(read_all(resp), 10)
        assert rest == b""
        if scheme == "https":
            assert resp.trailers["x-echo-trailer"] == "last info"
        else:  # hypercorn has no HTTP/1.1 trailers
            assert "x-echo-trailer" not in resp.trailers


async def test_exit_stream_unread_closes_request_iterator(client, http_server):
    closed = asyncio.Event()
    gate = asyncio.Event()

    async def body():
        try:
            yield b"first"
            await gate.wait()
            yield b"never"
        finally:
            closed.set()

    async with client.stream("POST", http_server.url + "/echo", content=body()) as resp:
        assert resp.status == 200
    await asyncio.wait_for(closed.wait(), 5)
    # reads after exit end immediately
    assert await asyncio.wait_for(read_all(resp), 5) == b""


async def test_close_during_pending_read_raises_read_error(client, http_server):
    async with client.stream("GET", http_server.url + "/stall") as resp:
        assert resp.status == 200
        task = asyncio.ensure_future(resp.content.__anext__())
        for _ in range(500):
            if resp._read_pending:
                break
            await asyncio.sleep(0.01)
        assert resp._read_pending is True
        await resp.aclose()
        with pytest.raises(ReadError):
            await asyncio.wait_for(task, 5)
        assert resp._read_pending is False


async def test_server_error_after_headers(client, http_server):
    async with client.stream("GET", http_server.url + "/echo", {"x-error-response": "1"}) as resp:
        assert resp.status == 200
        with pytest.raises(RemoteProtocolError):
            await asyncio.wait_for(read_all(resp), 10)


async def test_server_error_after_headers_buffered(client, http_server):
    with pytest.raises(RemoteProtocolError):
        await client.get(http_server.url + "/echo", {"x-error-response": "1"})


async def test_response_status_from_header(client, http_server):
    resp = await client.get(http_server.url + "/echo", {"x-response-status": "418"})
    assert resp.status == 418


async def test_dropping_unclosed_response_closes_body_generator(client, http_server):
    closed = asyncio.Event()
    gate = asyncio.Event()

    async def body():
        try:
            yield b"first"
            await gate.wait()
        finally:
            closed.set()

    resp = await client.stream("POST", http_server.url + "/echo", content=body())
    assert resp.status == 200
    del resp
    gc.collect()
    await asyncio.wait_for(closed.wait(), 5)


# --- trailers (HTTP/1.1 chunked, spec section 0) --------------------------------------------

TRAILER_RESPONSE = (
    b"HTTP/1.1 200 OK\r\n"
    b"Transfer-Encoding: chunked\r\n"
    b"Trailer: x-trailer, x-other\r\n"
    b"\r\n"
    b"5\r\nhello\r\n"
    b"6\r\n world\r\n"
    b"0\r\n"
    b"x-trailer: trailer value\r\n"
    b"X-Other: 2\r\n"
    b"\r\n"
)


async def test_trailers_in_full_response(client, scripted):
    scripted.handler = keep_alive_raw(TRAILER_RESPONSE)
    resp = await client.get(scripted.url + "/")
    assert resp.content == b"hello world"
    assert resp.trailers["x-trailer"] == "trailer value"
    assert resp.trailers["x-other"] == "2"
    assert "x-trailer" not in resp.headers


async def test_trailers_on_streamed_response_after_body(client, scripted):
    scripted.handler = keep_alive_raw(TRAILER_RESPONSE)
    async with client.stream("GET", scripted.url + "/") as resp:
        trailers = resp.trailers
        assert await read_all(resp) == b"hello world"
        assert resp.trailers["x-trailer"] == "trailer value"
        assert trailers.get("x-trailer") == "trailer value"  # live object, filled at the end


async def test_trailers_connection_reused_after(client, scripted):
    scripted.handler = keep_alive_raw(TRAILER_RESPONSE)
    for _ in range(3):
        resp = await client.get(scripted.url + "/")
        assert resp.trailers["x-trailer"] == "trailer value"
    assert scripted.accepted == 1


async def test_no_trailers_is_empty(client, http_server):
    resp = await client.get(http_server.url + "/chunked/10")
    assert isinstance(resp.trailers, Headers)
    assert len(resp.trailers) == 0


def keep_alive_raw(data: bytes):
    async def handler(conn):
        while True:
            req = await conn.read_request()
            if req is None:
                return
            await conn.send(data)

    return handler


# --- Client basics ---------------------------------------------------------------------------


async def test_client_default_transport(http_server):
    resp = await Client().get(http_server.url + "/echo")
    assert resp.status == 200


async def test_client_none_transport(http_server):
    resp = await Client(None).get(http_server.url + "/echo")
    assert resp.status == 200


async def test_concurrent_requests(client, http_server):
    resps = await asyncio.gather(
        *(client.post(http_server.url + "/echo", content=f"r{i}".encode()) for i in range(20))
    )
    assert [r.content for r in resps] == [f"r{i}".encode() for i in range(20)]


# --- request validation before any byte is sent --------------------------------------------


async def test_invalid_method_rejected_before_connecting(client, scripted):
    scripted.handler = keep_alive()
    with pytest.raises(ValueError):
        await client.execute("BAD METHOD", scripted.url + "/")
    with pytest.raises(ValueError):
        await client.execute("GET\r\nX-Injected: 1", scripted.url + "/")
    await asyncio.sleep(0.05)
    assert scripted.accepted == 0


async def test_header_injection_rejected_before_connecting(client, scripted):
    scripted.handler = keep_alive()
    with pytest.raises(ValueError):
        await client.get(scripted.url + "/", {"x-a": "v\r\nx-injected: 1"})
    with pytest.raises(ValueError):
        await client.get(scripted.url + "/", [("x-a\r\nx-b", "v")])
    await asyncio.sleep(0.05)
    assert scripted.accepted == 0


async def test_url_controls_never_reach_the_wire(client, scripted):
    scripted.handler = keep_alive(lambda conn, req: req.target.encode())
    resp = await client.get(scripted.url + "/a\r\nb\tc?x=1\r\n2")
    assert resp.content == b"/abc?x=12"


async def test_invalid_url_value_error(client):
    with pytest.raises(ValueError, match=r"^Invalid URL"):
        await client.get("http://")


# --- custom transports (spec 1.2) --------------------------------------------------------------


class FakeTransport:
    """A non-HTTPTransport Transport: records the Request, answers with a canned Response."""

    def __init__(self, make_response):
        self.requests: list[pyqwest.Request] = []
        self.make_response = make_response

    async def execute(self, request):
        self.requests.append(request)
        return self.make_response(request)


class TrackedContent:
    def __init__(self, chunks):
        self.chunks = list(chunks)
        self.closed = False

    def __aiter__(self):
        return self

    async def __anext__(self):
        if not self.chunks:
            raise StopAsyncIteration
        return self.chunks.pop(0)

    async def aclose(self):
        self.closed = True


async def test_custom_transport_execute_buffers_response():
    content = TrackedContent([b"he", b"llo"])
    transport = FakeTransport(
        lambda req: pyqwest.Response(
            status=201,
            headers=Headers({"x-a": "1"}),
            content=content,
            trailers=Headers({"x-t": "2"}),
        )
    )
    resp = await Client(transport).post(
        "http://fake.invalid/path", {"x-h": "v"}, content=b"body", params={"q": "1"}
    )
    assert isinstance(resp, FullResponse)
    assert resp.status == 201
    assert resp.headers == {"x-a": "1"}
    assert resp.content == b"hello"
    assert resp.trailers == {"x-t": "2"}
    assert content.closed
    (req,) = transport.requests
    assert isinstance(req, pyqwest.Request)
    assert req.method == "POST"
    assert req.url == "http://fake.invalid/path?q=1"
    assert req.headers["x-h"] == "v"
    assert req.content == b"body"


async def test_custom_transport_stream_returns_its_response():
    made = []

    def make(req):
        made.append(pyqwest.Response(status=200, content=b"streamed"))
        return made[-1]

    async with Client(FakeTransport(make)).stream("GET", "http://fake.invalid/") as resp:
        assert resp is made[0]
        assert await read_all(resp) == b"streamed"


async def test_custom_transport_json_request():
    transport = FakeTransport(lambda req: pyqwest.Response(status=200))
    await Client(transport).post("http://fake.invalid/", content={"a": 1})
    (req,) = transport.requests
    assert req.content == b'{"a": 1}'
    assert req._json is True
