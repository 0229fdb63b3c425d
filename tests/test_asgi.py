"""pyqwest.testing.ASGITransport (API.md §3.2): a Starlette app in-process, compared with the same
app served by hypercorn, plus raw ASGI apps that misbehave on purpose."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from servers.starlette_app import app as starlette_app
from servers.starlette_app import starlette_server  # noqa: F401

from pyqwest import Client, HTTPVersion, Multipart, Part, ReadError, Request, WriteError
from pyqwest.testing import ASGITransport


async def agen(*chunks: Any) -> AsyncIterator[Any]:
    for c in chunks:
        yield c


@pytest.fixture(params=["asgi", "hypercorn"])
async def starlette_client(request, make_transport, starlette_server):  # noqa: F811
    """(client, base URL) of the Starlette app: in-process, or over the network."""
    if request.param == "hypercorn":
        yield Client(make_transport()), starlette_server.url
        return
    async with ASGITransport(starlette_app, http_version=HTTPVersion.HTTP1) as transport:
        yield Client(transport), "http://testserver"


# --- the same app both ways ----------------------------------------------------------------


async def test_form_both_ways(starlette_client):
    client, base = starlette_client
    resp = await client.post(base + "/form", content=Multipart({
        "a": "1", "f": Part(agen(b"x", b"y"), filename="f.txt",
                            headers={"content-type": "text/plain"}),
    }))
    assert resp.json() == [
        {"name": "a", "filename": None, "content_type": None, "value": "1"},
        {"name": "f", "filename": "f.txt", "content_type": "text/plain", "value": "xy"},
    ]


async def test_streamed_echo_both_ways(starlette_client):
    client, base = starlette_client
    resp = await client.post(base + "/echo", {"x-a": "1"}, agen(b"one ", b"two"))
    assert (resp.status, resp.content, resp.headers["x-echo-x-a"]) == (200, b"one two", "1")


async def test_lifespan_state_both_ways(starlette_client):
    client, base = starlette_client
    assert (await client.get(base + "/state")).text() == "yes"


async def test_gzip_decoded_both_ways(starlette_client):
    client, base = starlette_client
    resp = await client.get(base + "/gzip")
    assert resp.content == b"hello gzip" * 10
    assert "content-encoding" not in resp.headers


async def test_starlette_500_both_ways(starlette_client):
    client, base = starlette_client
    resp = await client.get(base + "/boom")
    assert (resp.status, resp.content) == (500, b"Internal Server Error")


# --- scope ---------------------------------------------------------------------------------


async def test_scope():
    transport = ASGITransport(starlette_app, client=("10.1.2.3", 4567))
    resp = await Client(transport).post(
        "http://example.com:8080/scope?a=1&b=%20", {"X-Thing": "v"}, {"k": "v"}
    )
    scope = resp.json()
    assert scope == {
        "asgi": {"version": "3.0", "spec_version": "2.5"},
        "http_version": "2",
        "method": "POST",
        "scheme": "http",
        "path": "/scope",
        "raw_path": "/scope",
        "query_string": "a=1&b=%20",
        "headers": [["host", "example.com:8080"], ["x-thing", "v"],
                    ["content-type", "application/json"]],
        "server": ["example.com", 8080],
        "client": ["10.1.2.3", 4567],
        "extensions": {"http.response.trailers": {}},
        "root_path": "",
    }


async def test_scope_path_unquoted_and_versions():
    seen: list[dict[str, Any]] = []

    async def app(scope, receive, send):
        seen.append(scope)
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body"})

    for version, name in [(HTTPVersion.HTTP1, "1.1"), (HTTPVersion.HTTP3, "3")]:
        await Client(ASGITransport(app, http_version=version)).get("https://h/a%20b/ü?x=%C3%BC")
        scope = seen.pop()
        assert scope["http_version"] == name
        assert (scope["path"], scope["raw_path"]) == ("/a b/ü", b"/a%20b/%C3%BC")
        assert scope["query_string"] == b"x=%C3%BC"
        assert scope["server"] == ("h", 443)
        assert scope["headers"] == [(b"host", b"h")]


# --- lifespan ------------------------------------------------------------------------------


async def test_lifespan_unsupported_is_tolerated():
    async def app(scope, receive, send):
        if scope["type"] != "http":
            raise RuntimeError("only http")
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"ok"})

    async with ASGITransport(app) as transport:
        assert (await Client(transport).get("http://h/")).content == b"ok"


async def test_lifespan_startup_failure_is_runtime_error():
    async def app(scope, receive, send):
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no db"})

    with pytest.raises(RuntimeError, match="no db"):
        async with ASGITransport(app):
            pass


async def test_lifespan_shutdown_runs_on_close():
    events: list[str] = []

    async def app(scope, receive, send):
        while True:
            message = await receive()
            events.append(message["type"])
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return

    async with ASGITransport(app):
        assert events == ["lifespan.startup"]
    assert events == ["lifespan.startup", "lifespan.shutdown"]


# --- ASGI 2 --------------------------------------------------------------------------------


async def test_asgi2_app_is_adapted():
    class App:
        def __init__(self, scope: dict[str, Any]) -> None:
            self.scope = scope

        async def __call__(self, receive, send):
            await send({"type": "http.response.start", "status": 200})
            await send({"type": "http.response.body", "body": self.scope["path"].encode()})

    assert (await Client(ASGITransport(App)).get("http://h/two")).content == b"/two"


# --- duplex and trailers -------------------------------------------------------------------


async def test_full_duplex():
    sent: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def body() -> AsyncIterator[bytes]:
        while (chunk := await sent.get()) is not None:
            yield chunk

    transport = ASGITransport(starlette_app)
    async with Client(transport).stream("POST", "http://h/echo", content=body()) as resp:
        chunks = resp.content
        for word in (b"ping", b"pong"):
            await sent.put(word)
            assert await anext(chunks) == word
        await sent.put(None)
        assert [c async for c in chunks] == []


@pytest.mark.parametrize(
    ("version", "headers", "expected"),
    [
        (HTTPVersion.HTTP2, {"te": "trailers"}, {"x-echo-trailer": "last info"}),
        (HTTPVersion.HTTP2, {}, {}),
        (HTTPVersion.HTTP1, {"te": "trailers"}, {}),
    ],
)
async def test_trailers_only_http2_with_te(version, headers, expected):
    transport = ASGITransport(starlette_app, http_version=version)
    resp = await Client(transport).post("http://h/echo", headers, b"body")
    assert (resp.content, resp.trailers) == (b"body", expected)


# --- app errors ----------------------------------------------------------------------------


async def test_error_before_start_is_500_with_its_text():
    async def app(scope, receive, send):
        raise KeyError("missing thing")

    transport = ASGITransport(app)
    resp = await Client(transport).get("http://h/")
    assert (resp.status, resp.headers["content-type"], resp.content) == (
        500, "text/plain", b"'missing thing'"
    )
    assert isinstance(transport.app_exception, KeyError)


@pytest.mark.parametrize("error", [ConnectionRefusedError("down"), TimeoutError("slow")])
async def test_connection_and_timeout_errors_propagate(error):
    async def app(scope, receive, send):
        raise error

    with pytest.raises(type(error), match=str(error)):
        await Client(ASGITransport(app)).get("http://h/")


async def test_app_without_response_is_500():
    async def app(scope, receive, send):
        return

    resp = await Client(ASGITransport(app)).get("http://h/")
    assert (resp.status, resp.content) == (500, b"ASGI application did not start a response")


async def test_error_after_start_is_read_error():
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        raise ValueError("mid-body")

    transport = ASGITransport(app)
    async with Client(transport).stream("GET", "http://h/") as resp:
        assert resp.status == 200
        assert await anext(resp.content) == b"part"
        with pytest.raises(ReadError, match="mid-body") as info:
            await anext(resp.content)
    assert isinstance(info.value.__cause__, ValueError)
    assert isinstance(transport.app_exception, ValueError)


async def test_error_after_complete_body_is_recorded_only():
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"whole"})
        raise ValueError("late")

    transport = ASGITransport(app)
    assert (await Client(transport).get("http://h/")).content == b"whole"
    assert str(transport.app_exception) == "late"


# --- bad request bodies --------------------------------------------------------------------


async def test_non_bytes_chunk_is_write_error():
    with pytest.raises(WriteError, match=r"^Request not bytes object$"):
        await Client(ASGITransport(starlette_app)).post("http://h/form", content=agen("text"))


async def test_body_iterator_error_is_write_error():
    async def failing() -> AsyncIterator[bytes]:
        yield b"x"
        raise RuntimeError("Test error")

    with pytest.raises(WriteError, match=r"^Request failed: Test error$"):
        await Client(ASGITransport(starlette_app)).post("http://h/form", content=failing())


async def test_body_iterator_error_mid_response_is_write_error():
    async def failing() -> AsyncIterator[bytes]:
        yield b"x"
        await asyncio.sleep(0.01)
        raise RuntimeError("Test error")

    async with Client(ASGITransport(starlette_app)).stream(
        "POST", "http://h/echo", content=failing()
    ) as resp:
        with pytest.raises(WriteError, match="Test error"):
            [c async for c in resp.content]


# --- nothing left running ------------------------------------------------------------------


def _endless_app(log: list[str]) -> Any:
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200})
        try:
            while True:
                await send({"type": "http.response.body", "body": b"x", "more_body": True})
        finally:
            log.append("app ended")

    return app


async def test_closing_the_response_cancels_the_app():
    log: list[str] = []
    body_closed = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b"a"
            await asyncio.Event().wait()
            yield b""  # pragma: no cover
        finally:
            body_closed.set()

    async with Client(ASGITransport(_endless_app(log))).stream(
        "POST", "http://h/", content=body()
    ) as resp:
        assert await anext(resp.content) == b"x"
    assert log == ["app ended"]
    assert body_closed.is_set()


async def test_transport_close_cancels_running_exchanges():
    log: list[str] = []
    transport = ASGITransport(_endless_app(log))
    resp = await transport.execute(Request("GET", "http://h/"))
    assert await anext(resp.content) == b"x"
    await transport.close()
    assert log == ["app ended"]
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]


async def test_cancelled_execute_cancels_the_app():
    started = asyncio.Event()
    log: list[str] = []

    async def app(scope, receive, send):
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            log.append("app ended")

    task = asyncio.ensure_future(Client(ASGITransport(app)).get("http://h/"))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log == ["app ended"]


async def test_partial_of_an_asgi3_function_is_not_adapted():
    import functools

    async def app(scope, receive, send, *, body):
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": body})

    transport = ASGITransport(functools.partial(app, body=b"partial"))
    assert (await Client(transport).get("http://h/")).content == b"partial"
