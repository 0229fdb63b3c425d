"""A Starlette app: the "real framework" side of the integration tests.

The same app runs in-process through `pyqwest.testing.ASGITransport` and over the network under
hypercorn (the `starlette_server` / `starlette_tls_server` fixtures; import them into a test
module), so both paths can be compared.

Endpoints:
``/form``          POST: the form parsed by Starlette (python-multipart) as JSON: a list of
                   ``{name, filename, content_type, value}`` (``value`` latin-1 decoded).
``/state``         the lifespan state's ``started`` value (lifespan sets it to ``"yes"``).
``/scope``         the ASGI scope fields a test checks, as JSON.
``/echo``          like the kitchensink's: request body streamed back chunk by chunk, request
                   headers as ``x-echo-<name>``; with ``te: trailers`` and the trailers
                   extension, trailer ``x-echo-trailer: last info``.
``/boom``          raises ``ValueError("boom")`` before responding.
``/redirect/<n>``  302 to ``/redirect/<n-1>``, ``/redirect/0`` answers ``b"landed"``.
``/slow``          ``?chunks=3&delay=0.05``: chunks ``b"chunk<i>"`` with sleeps in between;
                   ``?head_delay=<s>`` sleeps before the headers.
``/gzip``          a gzip-encoded ``b"hello gzip" * 10``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from .hypercorn_server import HypercornServer, serving
from .loop_thread import LoopThread


async def form(request: Request) -> JSONResponse:
    parsed = await request.form()
    fields: list[dict[str, Any]] = []
    for name, value in parsed.multi_items():
        if isinstance(value, UploadFile):
            fields.append({
                "name": name,
                "filename": value.filename,
                "content_type": value.headers.get("content-type"),
                "value": (await value.read()).decode("latin-1"),
            })
        else:
            fields.append({"name": name, "filename": None, "content_type": None, "value": value})
    await parsed.close()
    return JSONResponse(fields)


async def state(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.state.started)


async def scope(request: Request) -> JSONResponse:
    s = request.scope
    return JSONResponse({
        "asgi": s["asgi"],
        "http_version": s["http_version"],
        "method": s["method"],
        "scheme": s["scheme"],
        "path": s["path"],
        "raw_path": s["raw_path"].decode("latin-1"),
        "query_string": s["query_string"].decode("latin-1"),
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in s["headers"]],
        "server": list(s["server"]) if s.get("server") else None,
        "client": list(s["client"]) if s.get("client") else None,
        "extensions": s.get("extensions"),
        "root_path": s.get("root_path"),
    })


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    headers = [(b"x-echo-" + k, v) for k, v in scope["headers"]]
    wants_trailers = (
        (b"te", b"trailers") in scope["headers"]
        and "http.response.trailers" in scope.get("extensions", {})
    )
    await send({"type": "http.response.start", "status": 200, "headers": headers,
                "trailers": wants_trailers})
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            return
        if msg.get("body"):
            await send({"type": "http.response.body", "body": msg["body"], "more_body": True})
        if not msg.get("more_body", False):
            break
    await send({"type": "http.response.body", "body": b"", "more_body": wants_trailers})
    if wants_trailers:
        await send({"type": "http.response.trailers",
                    "headers": [(b"x-echo-trailer", b"last info")], "more_trailers": False})


async def boom(request: Request) -> Response:
    raise ValueError("boom")


async def redirect(request: Request) -> Response:
    n = int(request.path_params["n"])
    if n <= 0:
        return PlainTextResponse("landed")
    return RedirectResponse(f"/redirect/{n - 1}", status_code=302)


async def slow(scope: dict[str, Any], receive: Any, send: Any) -> None:
    query = dict(
        pair.split("=", 1) for pair in scope["query_string"].decode().split("&") if "=" in pair
    )
    await asyncio.sleep(float(query.get("head_delay", 0)))
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    for i in range(int(query.get("chunks", 3))):
        if i:
            await asyncio.sleep(float(query.get("delay", 0.05)))
        await send({"type": "http.response.body", "body": b"chunk%d" % i, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def gzipped(request: Request) -> Response:
    return Response(gzip.compress(b"hello gzip" * 10), headers={"content-encoding": "gzip"},
                    media_type="text/plain")


class _RawASGI:
    """A raw ASGI endpoint for a Route (Starlette wraps plain functions as request handlers)."""

    def __init__(self, fn: Any) -> None:
        self._fn = fn

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self._fn(scope, receive, send)


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, str]]:
    yield {"started": "yes"}


app = Starlette(
    routes=[
        Route("/form", form, methods=["POST"]),
        Route("/state", state),
        Route("/scope", scope, methods=["GET", "POST", "PUT"]),
        Route("/echo", _RawASGI(echo), methods=["GET", "POST", "PUT"]),
        Route("/boom", boom),
        Route("/redirect/{n}", redirect),
        Route("/slow", _RawASGI(slow)),
        Route("/gzip", gzipped),
    ],
    lifespan=lifespan,
)


@pytest.fixture(scope="session")
def starlette_server(server_loop: LoopThread) -> Iterator[HypercornServer]:
    with serving(server_loop, app) as server:
        yield server


@pytest.fixture(scope="session")
def starlette_tls_server(
    server_loop: LoopThread, server_cert_files: dict[str, str]
) -> Iterator[HypercornServer]:
    with serving(server_loop, app, server_cert_files) as server:
        yield server
