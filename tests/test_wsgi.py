"""pyqwest.testing.WSGITransport (API.md §3.3): a Flask app in-process (compared with the same app
under wsgiref's server over the network), and raw WSGI apps that misbehave on purpose."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from servers.flask_app import app as flask_app
from servers.flask_app import flask_server  # noqa: F401

from pyqwest import (
    Client,
    HTTPVersion,
    ReadError,
    SyncClient,
    SyncMultipart,
    SyncPart,
    SyncRequest,
    WriteError,
)
from pyqwest._pyqwest import get_sync_timeout, set_sync_timeout
from pyqwest.testing import WSGIConnectionError, WSGITimeoutError, WSGITransport

FORM = [
    {"name": "a", "filename": None, "content_type": None, "value": "1"},
    {"name": "f", "filename": "f.txt", "content_type": "text/plain", "value": "xy"},
]


def form() -> SyncMultipart:
    return SyncMultipart({"a": "1", "f": SyncPart(iter([b"x", b"y"]), filename="f.txt",
                                                  headers={"content-type": "text/plain"})})


def client(app: Any = flask_app, **kw: Any) -> SyncClient:
    return SyncClient(WSGITransport(app, **kw))


# --- the Flask app, in-process and over the network ----------------------------------------


def test_form_in_process():
    assert client().post("http://testserver/form", content=form()).json() == FORM


async def test_form_over_the_network(make_transport, flask_server):  # noqa: F811
    from pyqwest import Multipart, Part

    async def chunks():
        yield b"x"
        yield b"y"

    mp = Multipart({"a": "1", "f": Part(chunks(), filename="f.txt",
                                        headers={"content-type": "text/plain"})})
    resp = await Client(make_transport()).post(flask_server + "/form", content=mp)
    assert resp.json() == FORM


@pytest.mark.parametrize("body", [b"hello world", [b"hel", b"lo ", b"world"]],
                         ids=["bytes", "chunks"])
def test_echo_in_process(body):
    resp = client().post("http://testserver/echo", {"x-a": "1"}, body)
    assert (resp.status, resp.content, resp.headers["x-echo-x-a"]) == (200, b"hello world", "1")


async def test_echo_over_the_network(make_transport, flask_server):  # noqa: F811
    resp = await Client(make_transport()).post(flask_server + "/echo", {"x-a": "1"},
                                               b"hello world")
    assert (resp.status, resp.content, resp.headers["x-echo-x-a"]) == (200, b"hello world", "1")


def test_gzip_decoded():
    resp = client().get("http://testserver/gzip")
    assert resp.content == b"hello gzip" * 10
    assert "content-encoding" not in resp.headers


def test_flask_500_and_app_error_logged():
    resp = client().get("http://testserver/boom")
    assert resp.status == 500


def test_error_stream():
    transport = WSGITransport(flask_app)
    assert SyncClient(transport).get("http://testserver/errors").content == b"logged"
    assert transport.error_stream.getvalue() == "This is an error message\n"


# --- environ -------------------------------------------------------------------------------


def test_environ():
    e = client(client=("10.0.0.9", 4321)).get(
        "http://example.com:8080/environ?q=%20x", [("X-Dup", "a"), ("x-dup", "b")]
    ).json()
    assert {k: e[k] for k in (
        "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME",
        "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR", "REMOTE_PORT", "HTTP_HOST",
        "HTTP_X_DUP", "wsgi.url_scheme",
    )} == {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/environ",
        "QUERY_STRING": "q=%20x", "SERVER_NAME": "example.com", "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/2", "REMOTE_ADDR": "10.0.0.9", "REMOTE_PORT": "4321",
        "HTTP_HOST": "example.com:8080", "HTTP_X_DUP": "a,b", "wsgi.url_scheme": "http",
    }


def test_environ_content_headers_and_path():
    seen: list[dict[str, Any]] = []

    def app(environ, start_response):
        seen.append(environ)
        start_response("204 No Content", [])
        return []

    SyncClient(WSGITransport(app, http_version=HTTPVersion.HTTP1)).post(
        "https://h/%C3%BC%20x", content={"k": "v"}
    )
    env = seen[0]
    assert env["PATH_INFO"] == "/ü x".encode().decode("latin-1")
    assert (env["CONTENT_TYPE"], env["CONTENT_LENGTH"]) == ("application/json", "10")
    assert (env["SERVER_PORT"], env["SERVER_PROTOCOL"]) == ("443", "HTTP/1.1")
    assert env["wsgi.input"].read() == b'{"k": "v"}'


def test_input_methods():
    got: dict[str, Any] = {}

    def app(environ, start_response):
        body = environ["wsgi.input"]
        got["line"] = body.readline()
        got["sized"] = body.readline(2)
        got["read"] = body.read(3)
        got["lines"] = body.readlines()
        start_response("200 OK", [])
        return [b"done"]

    SyncClient(WSGITransport(app)).post("http://h/", content=[b"one\ntw", b"o\nthree\nfo", b"ur"])
    assert got == {"line": b"one\n", "sized": b"tw", "read": b"o\nt", "lines": [b"hree\n",
                                                                               b"four"]}


# --- trailers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "headers", "expected"),
    [(HTTPVersion.HTTP2, {"te": "trailers"}, {"x-echo-trailer": "last info"}),
     (HTTPVersion.HTTP2, {}, {}),
     (HTTPVersion.HTTP1, {"te": "trailers"}, {})],
)
def test_trailers_only_http2_with_te(version, headers, expected):
    resp = client(http_version=version).post("http://h/echo", headers, b"body")
    assert (resp.content, resp.trailers) == (b"body", expected)


# --- app errors ----------------------------------------------------------------------------


def test_missing_start_response_is_500():
    def app(environ, start_response):
        return [b"ignored"]

    resp = client(app).get("http://h/")
    assert (resp.status, resp.headers["content-type"], resp.content) == (
        500, "text/plain", b"WSGI application did not call start_response"
    )


def test_error_before_start_is_500_with_its_text():
    def app(environ, start_response):
        raise KeyError("missing thing")

    transport = WSGITransport(app)
    resp = SyncClient(transport).get("http://h/")
    assert (resp.status, resp.content) == (500, b"'missing thing'")
    assert isinstance(transport.app_exception, KeyError)


@pytest.mark.parametrize(
    ("error", "expected"),
    [(TimeoutError("slow db"), WSGITimeoutError), (ConnectionError("db down"),
                                                    WSGIConnectionError),
     (ValueError("bad"), None)],
)
def test_exc_info_mapping(error, expected):
    def app(environ, start_response):
        try:
            raise error
        except Exception as exc:
            start_response("500 Internal Server Error", [], (type(exc), exc, exc.__traceback__))
            return [b"error page"]

    if expected is None:
        resp = client(app).get("http://h/")
        assert (resp.status, resp.content) == (500, b"bad")
        return
    with pytest.raises(expected, match=str(error)) as info:
        client(app).get("http://h/")
    assert info.value.__cause__ is error


def test_error_mid_body_is_read_error():
    def app(environ, start_response):
        start_response("200 OK", [])
        yield b"part"
        raise ValueError("mid-body")

    transport = WSGITransport(app)
    with SyncClient(transport).stream("GET", "http://h/") as resp:
        assert next(resp.content) == b"part"
        with pytest.raises(ReadError, match="mid-body"):
            next(resp.content)
    assert isinstance(transport.app_exception, ValueError)


# --- request bodies ------------------------------------------------------------------------


def test_non_bytes_chunk_is_write_error():
    with pytest.raises(WriteError, match=r"^Request not bytes object$"):
        client().post("http://h/echo", content=iter(["text"]))


def test_body_iterator_error_is_write_error():
    def failing() -> Iterator[bytes]:
        yield b"x"
        raise RuntimeError("Test error")

    with pytest.raises(WriteError, match=r"^Request failed: Test error$"):
        client().post("http://h/echo", content=failing())


def test_request_iterator_closed_at_end():
    closed: list[bool] = []

    def body() -> Iterator[bytes]:
        try:
            yield b"abc"
        finally:
            closed.append(True)

    assert client().post("http://h/echo", content=body()).content == b"abc"
    assert closed == [True]


# --- timeouts and threads ------------------------------------------------------------------


def test_response_not_started_in_time():
    release = threading.Event()

    def app(environ, start_response):
        release.wait(10)
        start_response("200 OK", [])
        return [b"late"]

    with pytest.raises(WSGITimeoutError) as info, set_sync_timeout(0.05):
        client(app).get("http://h/")
    release.set()
    info.value.wait(10)
    assert isinstance(info.value, TimeoutError)


def test_late_body_is_timeout_error():
    with SyncClient(WSGITransport(flask_app)).stream(
        "GET", "http://h/slow?chunks=2&delay=5", timeout=0.3
    ) as resp:
        assert next(resp.content) == b"chunk0"
        with pytest.raises(TimeoutError):
            next(resp.content)


def test_contextvars_reach_the_app():
    seen: list[Any] = []

    def app(environ, start_response):
        seen.append(get_sync_timeout())
        start_response("200 OK", [])
        return [b""]

    with set_sync_timeout(30):
        client(app).get("http://h/")
    assert seen[0] is not None and seen[0].total_seconds() > 20


def test_closing_the_response_stops_the_app():
    stopped = threading.Event()

    def app(environ, start_response):
        start_response("200 OK", [])

        def endless() -> Iterator[bytes]:
            try:
                while True:
                    yield b"x"
            finally:
                stopped.set()

        return endless()

    with ThreadPoolExecutor(1) as pool:
        with SyncClient(WSGITransport(app, executor=pool)).stream("GET", "http://h/") as resp:
            assert next(resp.content) == b"x"
        assert stopped.wait(10)


def test_sync_request_multipart_headers():
    req = SyncRequest("POST", "http://h/", {"x": "1"}, form())
    assert req.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert req.headers["x"] == "1"
