"""pyqwest.httpx.PyqwestTransport (API.md §3.1), driven by httpx's own Client over WSGITransport
with the Flask app (the blocking HTTP transport is not there yet), and sync transports that fail
on purpose."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from servers.flask_app import app as flask_app
from test_httpx import MAPPINGS

from pyqwest import HTTPVersion, SyncRequest, SyncResponse
from pyqwest.httpx import PyqwestTransport
from pyqwest.testing import WSGITransport


def flask(**kw: Any) -> httpx.Client:
    return httpx.Client(transport=PyqwestTransport(WSGITransport(flask_app, **kw)),
                        base_url="http://testserver")


def test_get_with_params_and_headers():
    with flask() as client:
        resp = client.get("/echo", params={"foo": "bar"}, headers={"x-hello": "w"})
    assert resp.status_code == 200
    assert resp.headers["x-echo-x-hello"] == "w"
    assert resp.headers.get_list("x-echo-host") == ["testserver"]
    assert resp.http_version == "HTTP/2"


def test_bodies():
    def chunks() -> Iterator[bytes]:
        yield b"stream "
        yield b"chunks"

    with flask() as client:
        assert client.post("/echo", content=b"bytes").content == b"bytes"
        assert client.post("/echo", content=chunks()).content == b"stream chunks"


def test_multipart_files_parsed_by_flask():
    with flask() as client:
        resp = client.post("/form", data={"a": "1"},
                           files={"f": ("f.txt", b"file body", "text/plain")})
    assert resp.json() == [
        {"name": "a", "filename": None, "content_type": None, "value": "1"},
        {"name": "f", "filename": "f.txt", "content_type": "text/plain", "value": "file body"},
    ]


@pytest.mark.parametrize(("version", "expected"),
                         [(HTTPVersion.HTTP2, {"x-echo-trailer": "last info"}),
                          (HTTPVersion.HTTP1, {})])
def test_trailers(version, expected):
    with flask(http_version=version) as client, client.stream(
        "POST", "/echo", headers={"te": "trailers"}, content=b"abc"
    ) as resp:
        assert resp.read() == b"abc"
        assert dict(resp.extensions["get_trailers"]()) == expected


def test_timeout_mid_body_is_read_timeout():
    got: list[bytes] = []
    with flask(http_version=HTTPVersion.HTTP1) as client:
        client.timeout = httpx.Timeout(0.2)
        with client.stream("GET", "/slow?chunks=2&delay=5") as resp, pytest.raises(
            httpx.ReadTimeout
        ) as info:
            for chunk in resp.iter_raw():
                got.append(chunk)
    assert got == [b"chunk0"]
    assert isinstance(info.value.__cause__, TimeoutError)


def test_timeout_before_headers_is_read_timeout():
    import threading

    release = threading.Event()

    def app(environ, start_response):
        release.wait(10)
        start_response("200 OK", [])
        return [b"late"]

    transport = PyqwestTransport(WSGITransport(app))
    with httpx.Client(transport=transport, timeout=0.1) as client:
        with pytest.raises(httpx.ReadTimeout) as info:
            client.get("http://h/")
        release.set()
    assert isinstance(info.value.__cause__, TimeoutError)


class Failing:
    def __init__(self, error: Exception, *, in_body: bool) -> None:
        self.error, self.in_body = error, in_body

    def execute_sync(self, request: SyncRequest) -> SyncResponse:
        if not self.in_body:
            raise self.error

        def body() -> Iterator[bytes]:
            yield b"partial"
            raise self.error

        return SyncResponse(status=200, content=body())


@pytest.mark.parametrize("in_body", [False, True], ids=["execute", "body"])
@pytest.mark.parametrize(("error", "expected"), MAPPINGS)
def test_error_mapping(error, expected, in_body):
    client = httpx.Client(transport=PyqwestTransport(Failing(error, in_body=in_body)))
    with client, pytest.raises(expected) as info:
        client.get("http://h/")
    assert info.value.__cause__ is error
    assert type(info.value) is expected


def test_invalid_method_is_local_protocol_error():
    transport = PyqwestTransport(WSGITransport(flask_app))
    with pytest.raises(httpx.LocalProtocolError):
        transport.handle_request(httpx.Request("BAD METHOD", "http://h/"))


def test_stream_consumed_and_close():
    closed: list[bool] = []

    class Tracking:
        def execute_sync(self, request: SyncRequest) -> SyncResponse:
            def body() -> Iterator[bytes]:
                try:
                    yield b"a"
                finally:
                    closed.append(True)

            return SyncResponse(status=200, content=body())

    resp = PyqwestTransport(Tracking()).handle_request(httpx.Request("GET", "http://h/"))
    stream: Any = resp.stream
    assert list(stream) == [b"a"]
    with pytest.raises(httpx.StreamConsumed):
        list(stream)
    stream.close()
    assert closed == [True]
