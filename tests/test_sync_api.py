"""The sync API objects (spec §2): SyncRequest, SyncResponse, SyncTransport, and SyncClient
over custom transports (no network: the transports here are the API's own mocks)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from pyqwest import (
    FullResponse,
    Headers,
    HTTPTransport,
    HTTPVersion,
    ReadError,
    RemoteProtocolError,
    SyncClient,
    SyncRequest,
    SyncResponse,
    SyncTransport,
    Transport,
)
from pyqwest._pyqwest import get_sync_timeout

# --- SyncRequest ---------------------------------------------------------------------------


def test_request_defaults():
    req = SyncRequest("GET", "http://example.com")
    assert req.method == "GET"
    assert req.url == "http://example.com/"
    assert req.headers == Headers()
    assert req.content == b""
    assert req._json is False


def test_request_bytes_and_json():
    assert SyncRequest("POST", "http://x/", content=bytearray(b"ab")).content == b"ab"
    req = SyncRequest("POST", "http://x/", content={"key": "value"})
    assert req.content == b'{"key": "value"}'
    assert req._json is True
    assert req.headers == Headers()


def test_request_list_streams_its_items():
    req = SyncRequest("POST", "http://x/", content=[b"a", b"b"])
    content = req.content
    assert isinstance(content, Iterator)
    assert list(content) == [b"a", b"b"]


def test_request_generator_is_not_advanced():
    pulled: list[int] = []

    def gen():
        pulled.append(1)
        yield b"x"

    g = gen()
    req = SyncRequest("POST", "http://x/", content=g)
    assert req.content is g
    assert pulled == []


@pytest.mark.parametrize(
    ("content", "message"),
    [(1, "'int' object is not iterable"), (object(), "'object' object is not iterable")],
)
def test_request_non_iterable_is_iters_type_error(content, message):
    with pytest.raises(TypeError, match=f"^{message}$"):
        SyncRequest("POST", "http://x/", content=content)


def test_request_params_and_method_checks():
    req = SyncRequest("CUSTOM", "http://x/p?a=1", params={"b": "c d", "e": None})
    assert req.method == "CUSTOM"
    assert req.url == "http://x/p?a=1&b=c+d&e"
    with pytest.raises(ValueError, match="Invalid HTTP method"):
        SyncRequest("BAD METHOD", "http://x/")
    with pytest.raises(ValueError, match="Invalid URL"):
        SyncRequest("GET", "not a url")


def test_request_headers_by_reference():
    h = Headers({"a": "b"})
    assert SyncRequest("GET", "http://x/", h).headers is h


def test_request_is_final():
    with pytest.raises(TypeError):
        type("Sub", (SyncRequest,), {})


# --- SyncResponse --------------------------------------------------------------------------


def test_response_defaults():
    resp = SyncResponse(status=200)
    assert resp.status == 200
    assert resp.http_version == HTTPVersion.HTTP1
    assert resp.headers == Headers()
    assert resp.trailers == Headers()
    assert list(resp.content) == []
    assert resp._read_pending is False


def test_response_bytes_content_is_one_chunk():
    resp = SyncResponse(status=201, content=b"hello")
    assert list(resp.content) == [b"hello"]
    assert list(resp.content) == []


def test_response_iterable_content():
    resp = SyncResponse(status=200, content=[b"a", memoryview(b"b")])
    assert [bytes(c) for c in resp.content] == [b"a", b"b"]


@pytest.mark.parametrize("status", [99, 1000, -1])
def test_response_invalid_status(status):
    with pytest.raises(RemoteProtocolError):
        SyncResponse(status=status)


def test_response_close_closes_generator_content_and_is_idempotent():
    closed: list[bool] = []

    def gen():
        try:
            yield b"a"
            yield b"b"
        finally:
            closed.append(True)

    resp = SyncResponse(status=200, content=gen())
    assert next(resp.content) == b"a"
    resp.close()
    resp.close()
    assert closed == [True]
    assert list(resp.content) == []


def test_response_context_manager_closes():
    closed: list[bool] = []

    def gen():
        try:
            yield b"a"
        finally:
            closed.append(True)

    with SyncResponse(status=200, content=gen()) as resp:
        next(resp.content)
    assert closed == [True]


# --- SyncTransport / SyncClient --------------------------------------------------------------


class EchoTransport:
    """Answers with the request's method, URL, headers and body."""

    def __init__(self) -> None:
        self.requests: list[SyncRequest] = []
        self.timeouts: list[object] = []

    def execute_sync(self, request: SyncRequest) -> SyncResponse:
        self.requests.append(request)
        self.timeouts.append(get_sync_timeout())
        content = request.content
        body = content if isinstance(content, bytes) else b"".join(content)
        headers = Headers({"x-method": request.method, "x-url": request.url})
        return SyncResponse(
            status=200, headers=headers, content=[body[:1], body[1:]],
            trailers=Headers({"x-trailer": "t"}),
        )


def test_sync_transport_protocol_is_distinct_from_async():
    assert isinstance(EchoTransport(), SyncTransport)
    assert not isinstance(EchoTransport(), Transport)
    assert not isinstance(HTTPTransport(), SyncTransport)


@pytest.mark.parametrize("verb", ["get", "delete", "head", "options"])
def test_client_verbs_without_body(verb):
    transport = EchoTransport()
    resp = getattr(SyncClient(transport), verb)("http://x/a", {"h": "v"}, params={"q": "1"})
    assert isinstance(resp, FullResponse)
    assert resp.headers["x-method"] == verb.upper()
    assert resp.headers["x-url"] == "http://x/a?q=1"
    assert transport.requests[0].headers["h"] == "v"


@pytest.mark.parametrize("verb", ["post", "put", "patch"])
def test_client_verbs_with_body(verb):
    resp = getattr(SyncClient(EchoTransport()), verb)("http://x/", None, [b"ab", b"c"])
    assert resp.headers["x-method"] == verb.upper()
    assert resp.content == b"abc"
    assert resp.trailers["x-trailer"] == "t"


def test_client_execute_custom_method_and_json():
    transport = EchoTransport()
    resp = SyncClient(transport).execute("CUSTOM", "http://x/", content={"a": 1})
    assert resp.content == b'{"a": 1}'
    assert transport.requests[0]._json is True


def test_client_timeout_is_a_context_deadline_for_the_transport():
    transport = EchoTransport()
    client = SyncClient(transport)
    client.get("http://x/", timeout=5)
    client.get("http://x/")
    first, second = transport.timeouts
    assert first is not None
    assert 4 < first.total_seconds() <= 5  # type: ignore[attr-defined]
    assert second is None


@pytest.mark.parametrize("bad", [-5, float("inf"), float("nan")])
def test_client_invalid_timeout(bad):
    client = SyncClient(EchoTransport())
    with pytest.raises(ValueError, match="Timeout must be non-negative"):
        client.get("http://x/", timeout=bad)
    with pytest.raises(ValueError, match="Timeout must be non-negative"):
        client.stream("GET", "http://x/", timeout=bad)


def test_client_stream_is_eager_and_closes_on_exit():
    events: list[str] = []

    class Tracking:
        def execute_sync(self, request: SyncRequest) -> SyncResponse:
            events.append("execute")

            def body():
                try:
                    yield b"a"
                    yield b"b"
                finally:
                    events.append("closed")

            return SyncResponse(status=200, content=body())

    ctx = SyncClient(Tracking()).stream("GET", "http://x/")
    assert events == ["execute"]
    with ctx as resp:
        assert next(resp.content) == b"a"
    assert events == ["execute", "closed"]


def test_client_stream_errors_raise_from_the_call():
    class Refusing:
        def execute_sync(self, request: SyncRequest) -> SyncResponse:
            raise ConnectionError("refused")

    with pytest.raises(ConnectionError, match="refused"):
        SyncClient(Refusing()).stream("GET", "http://x/")


def test_client_rejects_a_transport_not_returning_sync_response():
    class Wrong:
        def execute_sync(self, request: SyncRequest) -> object:
            return FullResponse(200, Headers(), b"", Headers())

    with pytest.raises(TypeError, match="SyncResponse"):
        SyncClient(Wrong()).get("http://x/")  # type: ignore[arg-type]


def test_client_execute_closes_the_response_on_body_error():
    closed: list[bool] = []

    class Failing:
        def execute_sync(self, request: SyncRequest) -> SyncResponse:
            def body():
                try:
                    yield b"a"
                    raise ReadError("boom")
                finally:
                    closed.append(True)

            return SyncResponse(status=200, content=body())

    with pytest.raises(ReadError, match="boom"):
        SyncClient(Failing()).get("http://x/")
    assert closed == [True]


def test_close_from_another_thread_with_generator_running_does_not_raise():
    started = threading.Event()
    release = threading.Event()

    def body():
        started.set()
        release.wait(5)
        yield b"x"

    resp = SyncResponse(status=200, content=body())
    reader = threading.Thread(target=lambda: list(resp.content))
    reader.start()
    assert started.wait(5)
    resp.close()  # the generator is executing in the reader: not closable, no error
    release.set()
    reader.join(5)
    assert not reader.is_alive()
