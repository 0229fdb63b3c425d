"""Requests the API must refuse before a byte is sent, and what reaches the wire otherwise.

Spec §0: CR, LF or NUL in the method, a header name or a header value → ValueError before
anything is sent; URLs are parsed the WHATWG way (TAB/CR/LF stripped, other controls
percent-encoded), so nothing from a URL can split the request line either. A recording server
proves the negatives: no connection, no byte.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from servers.scripted import Conn

from pyqwest import Client, Headers, HTTPHeaderName, Request

CONTROLS = ["\r", "\n", "\r\n", "\x00", "\x01", "\x1f", "\x7f"]
# every control at every position through Client.execute; the other entry points (stream,
# Request + transport.execute) with the injection shapes
CASES = [(c, w, "execute") for c in CONTROLS for w in ("start", "middle", "end")] + [
    (c, "middle", via) for c in ("\r\n", "\n", "\x00") for via in ("stream", "transport")
]


class Recorder:
    """Scripted-server handler: answers 200 with the raw request head it received (as the
    body), keeping every byte each connection sent in ``raw``."""

    def __init__(self) -> None:
        self.raw: list[bytearray] = []

    async def __call__(self, conn: Conn) -> None:
        buf = bytearray()
        self.raw.append(buf)
        while True:
            req = await conn.read_request()
            if req is None:
                return
            buf += req.raw_head + req.body
            await conn.send_response(200, req.raw_head)


@pytest.fixture
def recorder(scripted: Any) -> Recorder:
    rec = Recorder()
    scripted.handler = rec
    return rec


async def assert_nothing_sent(client: Client, scripted: Any, recorder: Recorder) -> None:
    """No connection was made and no byte arrived; the transport still works afterwards and
    its next request is the first thing the server sees."""
    await asyncio.sleep(0.01)
    assert scripted.accepted == 0
    assert not recorder.raw
    resp = await client.get(scripted.url + "/after")
    assert resp.content.startswith(b"GET /after HTTP/1.1\r\n")
    assert bytes(recorder.raw[0]).startswith(b"GET /after HTTP/1.1\r\n")


def entry_points(client: Client, transport: Any) -> dict[str, Any]:
    """The ways a request can be made: each takes (method, url, headers)."""

    async def execute(method: str, url: str, headers: Any) -> None:
        await client.execute(method, url, headers)

    async def stream(method: str, url: str, headers: Any) -> None:
        async with client.stream(method, url, headers) as resp:
            await resp.aclose()

    async def transport_execute(method: str, url: str, headers: Any) -> None:
        req = Request(method, url, Headers(headers) if headers is not None else None)
        resp = await transport.execute(req)
        await resp.aclose()

    return {"execute": execute, "stream": stream, "transport": transport_execute}


@pytest.mark.parametrize(("ctl", "where", "via"), CASES)
async def test_method_with_control_characters(
    client, transport, scripted, recorder, ctl, where, via
):
    method = {"start": ctl + "GET", "middle": "G" + ctl + "ET", "end": "GET" + ctl}[where]
    call = entry_points(client, transport)[via]
    with pytest.raises(ValueError, match=r"^Invalid HTTP method: "):
        await call(method, scripted.url + "/", None)
    await assert_nothing_sent(client, scripted, recorder)


@pytest.mark.parametrize(
    "method", ["GET /x HTTP/1.1", "GET\t", "", " GET", "GET:", "(GET)", "G\u00c9T", "\u2603"]
)
async def test_method_not_a_token(client, scripted, recorder, method):
    with pytest.raises(ValueError, match=r"^Invalid HTTP method: "):
        await client.execute(method, scripted.url + "/")
    await assert_nothing_sent(client, scripted, recorder)


@pytest.mark.parametrize(
    ("ctl", "via"),
    [(c, "execute") for c in [*CONTROLS, "\t", " ", ":", "\u00e9"]]
    + [("\r\n", "stream"), ("\r\n", "transport")],
)
async def test_header_name_with_control_or_separator(
    client, transport, scripted, recorder, ctl, via
):
    call = entry_points(client, transport)[via]
    with pytest.raises(ValueError, match=r"^Invalid header name"):
        await call("GET", scripted.url + "/", [("x-a" + ctl + "x-injected", "v")])
    await assert_nothing_sent(client, scripted, recorder)


@pytest.mark.parametrize(("ctl", "where", "via"), CASES)
async def test_header_value_with_control_characters(
    client, transport, scripted, recorder, ctl, where, via
):
    value = {"start": ctl + "v", "middle": "v" + ctl + "x-injected: 1", "end": "v" + ctl}[where]
    call = entry_points(client, transport)[via]
    with pytest.raises(ValueError, match=r"^Invalid header value"):
        await call("GET", scripted.url + "/", {"x-a": value})
    await assert_nothing_sent(client, scripted, recorder)


@pytest.mark.parametrize("ctl", ["\r\n", "\x00", "\n"])
def test_headers_mutators_validate(ctl):
    """A Headers object is used by reference (spec §1.2): every way of changing it checks."""
    h = Headers({"x-a": "ok"})
    bad_value = "v" + ctl + "x-injected: 1"
    for mutate in (
        lambda: h.__setitem__("x-a", bad_value),
        lambda: h.add("x-b", bad_value),
        lambda: h.update({"x-c": bad_value}),
        lambda: h.update(x_d=bad_value),
        lambda: h.setdefault("x-e", bad_value),
        lambda: h.add("x" + ctl + "y", "v"),
        lambda: h.__setitem__("x" + ctl, "v"),
    ):
        with pytest.raises(ValueError):
            mutate()
    assert list(h.items()) == [("x-a", "ok")]
    with pytest.raises(ValueError):
        HTTPHeaderName("x" + ctl)


async def test_tab_and_non_ascii_header_values_are_sent(client, scripted, recorder):
    """TAB and non-ASCII are legal in values (sent as UTF-8); nothing else is added."""
    resp = await client.get(scripted.url + "/", {"x-tab": "a\tb", "x-utf8": "caf\u00e9 \u2603"})
    head = resp.content
    assert b"\r\nx-tab: a\tb\r\n" in head
    assert "\r\nx-utf8: caf\u00e9 \u2603\r\n".encode() in head


# --- URLs: nothing a URL holds can split the request line ------------------------------------

URL_CASES = [
    # (path+query given, request target expected on the wire)
    ("/a\r\nb", "/ab"),
    ("/a\tb", "/ab"),
    ("/a\r\n\r\nGET /smuggled HTTP/1.1", "/aGET%20/smuggled%20HTTP/1.1"),
    ("/q?x=1\r\nx-injected:%201", "/q?x=1x-injected:%201"),
    ("/a\x00b", "/a%00b"),
    ("/a\x01\x1f\x7fb", "/a%01%1F%7Fb"),
    ("/a b", "/a%20b"),
    ("/caf\u00e9", "/caf%C3%A9"),
    ("/a%0d%0ab", "/a%0d%0ab"),
    ("/frag#x\r\ny", "/frag"),
]


@pytest.mark.parametrize(("given", "target"), URL_CASES)
async def test_url_controls_never_reach_the_wire(client, scripted, recorder, given, target):
    resp = await client.get(scripted.url + given)
    raw = bytes(recorder.raw[0])
    request_line, _, rest = raw.partition(b"\r\n")
    assert request_line == f"GET {target} HTTP/1.1".encode()
    assert resp.content == raw
    # exactly one request, its head ends once
    assert raw.count(b"\r\n\r\n") == 1 and raw.endswith(b"\r\n\r\n")
    assert b"smuggled" not in rest and b"x-injected" not in rest


async def test_url_authority_controls(client, scripted, recorder):
    """CR/LF/TAB inside the host are stripped before parsing; the Host header is clean."""
    url = scripted.url.replace("127.0.0.1", "127.0.\r\n0.1") + "/"
    resp = await client.get(url)
    assert f"\r\nhost: 127.0.0.1:{scripted.port}\r\n".encode() in resp.content
    assert resp.content.count(b"\r\n\r\n") == 1


async def test_url_nul_in_host_is_invalid(client, scripted, recorder):
    with pytest.raises(ValueError, match=r"^Invalid URL"):
        await client.get(f"http://127.0.0.1\x00.evil:{scripted.port}/")
    await assert_nothing_sent(client, scripted, recorder)


async def test_params_are_encoded(client, scripted, recorder):
    resp = await client.get(scripted.url + "/p", params={"k\r\n": "v\r\nx-injected: 1\x00"})
    request_line = resp.content.partition(b"\r\n")[0]
    assert request_line == b"GET /p?k%0D%0A=v%0D%0Ax-injected%3A+1%00 HTTP/1.1"


# --------------------------------------------------------------------------------------------
# body framing: a caller's Content-Length / Transfer-Encoding never splits the body into a
# second request (cpqwest/_reqhead.pyx decides for HTTP/1.1 and HTTP/2)
# --------------------------------------------------------------------------------------------

BAD_FRAMING = {
    "length-too-short": (
        [("content-length", "2")], r"^Content-Length header \(2\) does not match the body length "
        r"\(5\)$"),
    "length-too-long": (
        [("content-length", "9")], r"^Content-Length header \(9\) does not match the body length "
        r"\(5\)$"),
    "length-not-a-number": ([("content-length", "5x")], r"^Invalid Content-Length header: '5x'$"),
    "length-negative": ([("content-length", "-5")], r"^Invalid Content-Length header: '-5'$"),
    "two-lengths": ([("content-length", "5"), ("content-length", "5")],
                    r"^Invalid Content-Length header: '5, 5'$"),
    "length-and-chunked": ([("content-length", "5"), ("transfer-encoding", "chunked")],
                           r"^Content-Length and Transfer-Encoding headers cannot both be set$"),
    "coding-not-chunked": ([("transfer-encoding", "gzip")],
                           r"^Transfer-Encoding header must end with chunked, got 'gzip'$"),
    "chunked-then-gzip": ([("transfer-encoding", "chunked, gzip")],
                          r"^Transfer-Encoding header must end with chunked"),
}


@pytest.mark.parametrize("version", ["1.1", "2"])
@pytest.mark.parametrize("case", list(BAD_FRAMING))
async def test_framing_that_disagrees_with_the_body_is_refused(
    make_transport, scripted, recorder, case, version
):
    """Refused with ValueError before any byte is sent, as h11 (httpx) refuses a length
    mismatch: sent as given, the server would read the rest of the body as a request."""
    from pyqwest import HTTPVersion

    fields, pattern = BAD_FRAMING[case]
    transport = make_transport(
        http_version=HTTPVersion.HTTP2 if version == "2" else HTTPVersion.HTTP1
    )
    client = Client(transport)
    with pytest.raises(ValueError, match=pattern):
        await client.post(scripted.url + "/", Headers(fields), b"hello")
    if version == "1.1":
        await assert_nothing_sent(client, scripted, recorder)
    else:
        await asyncio.sleep(0.01)
        assert scripted.accepted == 0


async def test_matching_content_length_is_sent_once(client, scripted, recorder):
    await client.post(scripted.url + "/", {"Content-Length": "5"}, b"hello")
    await client.get(scripted.url + "/next")
    raw = bytes(recorder.raw[0])
    assert raw.lower().count(b"content-length:") == 1
    assert b"\r\ncontent-length: 5\r\n" in raw
    assert b"\r\n\r\nhelloGET /next HTTP/1.1\r\n" in raw


@pytest.mark.parametrize("body", [b"hello", b""])
async def test_caller_chunked_bytes_body_is_chunk_encoded(client, scripted, body):
    """A caller who sets `Transfer-Encoding: chunked` wants the body sent chunked: it is, with
    no Content-Length, and the connection carries the next request intact."""
    seen: list[Any] = []

    async def handler(conn: Conn) -> None:
        while (req := await conn.read_request()) is not None:
            seen.append(req)
            await conn.send_response(200, b"ok")

    scripted.handler = handler
    await client.post(scripted.url + "/", {"transfer-encoding": "chunked"}, body)
    resp = await client.get(scripted.url + "/next")
    assert resp.content == b"ok"
    assert [(r.method, r.chunked, r.body) for r in seen] == [
        ("POST", True, body), ("GET", False, b"")
    ]
    assert seen[0].getall("transfer-encoding") == ["chunked"]
    assert seen[0].header("content-length") is None
    assert scripted.accepted == 1


@pytest.mark.parametrize(
    ("chunks", "pattern"),
    [
        ([b"hello", b"world"], r"request body longer than its Content-Length \(5\)$"),
        ([b"hel"], r"request body shorter than its Content-Length \(3 of 5 bytes\)$"),
    ],
)
async def test_streamed_body_must_match_caller_content_length(
    client, scripted, recorder, chunks, pattern
):
    """A streamed body cannot be checked up front: it fails the request the moment it strays
    from the declared length, before an extra byte is written, and its connection closes."""
    from pyqwest import ReadError, WriteError

    async def body():  # type: ignore[no-untyped-def]
        for chunk in chunks:
            yield chunk

    with pytest.raises((WriteError, ReadError)) as info:
        await client.post(scripted.url + "/", {"content-length": "5"}, body())
    assert info.match(pattern)
    await scripted.wait_connections(1)
    await scripted.wait_done(scripted.connections[0])  # the client closed it
    assert all(b"world" not in raw for raw in recorder.raw)
    resp = await client.get(scripted.url + "/after")
    assert resp.content.startswith(b"GET /after HTTP/1.1\r\n")
    assert scripted.accepted == 2
