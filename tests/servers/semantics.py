"""An ASGI app for HTTP semantics: content codings, redirects, cookies, charsets.

Served by hypercorn on 127.0.0.1 through the `semantics_server` fixture (import it into a test
module: `from servers.semantics import semantics_server`).
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import brotli
import pytest
import zstandard

from .hypercorn_server import HypercornServer, serving
from .kitchensink import payload
from .loop_thread import LoopThread

_ENCODERS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
    "identity": lambda data: data,
}


def encode(data: bytes, codings: list[str]) -> bytes:
    """`data` with each coding applied in order, as a server lists them in Content-Encoding."""
    for coding in codings:
        data = _ENCODERS[coding](data)
    return data


async def _body(receive: Any) -> bytes:
    out = b""
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            return out
        out += msg.get("body", b"")
        if not msg.get("more_body", False):
            return out


async def _respond(
    send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]], pieces: int = 1
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    step = max(1, -(-len(body) // pieces))
    for i in range(0, len(body), step):
        await send({"type": "http.response.body", "body": body[i : i + step], "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    query = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    q = dict(query)
    path = scope["path"]
    body = await _body(receive)

    if path == "/encoded":
        # /encoded?codings=gzip,br&size=N[&pieces=K]: payload(N) with those codings applied
        codings = [c for c in q.get("codings", "").split(",") if c]
        data = encode(payload(int(q.get("size", "1000"))), codings)
        headers = [(b"content-type", b"application/octet-stream")]
        if codings:
            headers.append((b"content-encoding", ", ".join(codings).encode()))
        headers.append((b"content-length", str(len(data)).encode()))
        await _respond(send, 200, data, headers, int(q.get("pieces", "1")))
    elif path == "/corrupt":
        data = b"\x1f\x8b\x08\x00garbage-that-is-not-deflate" * 4
        await _respond(send, 200, data, [(b"content-encoding", b"gzip")])
    elif path == "/request":
        # what arrived: method, headers, body, as JSON
        info = {
            "method": scope["method"],
            "path": path,
            "query": scope["query_string"].decode("latin-1"),
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
            "body": body.decode("latin-1"),
        }
        await _respond(
            send, 200, json.dumps(info).encode(), [(b"content-type", b"application/json")]
        )
    elif path == "/redirect":
        # /redirect?to=<location>&status=302
        status = int(q.get("status", "302"))
        await _respond(send, status, b"moved", [(b"location", q["to"].encode("latin-1"))])
    elif path == "/loop":
        await _respond(send, 302, b"", [(b"location", b"/loop")])
    elif path == "/set-cookie":
        # every `c` param becomes one Set-Cookie header; `to` redirects at the same time
        headers = [(b"set-cookie", v.encode("latin-1")) for k, v in query if k == "c"]
        status = 200
        if "to" in q:
            status = 302
            headers.append((b"location", q["to"].encode("latin-1")))
        await _respond(send, status, b"ok", headers)
    elif path == "/text":
        # /text?charset=shift_jis&t=<text>
        cs = q.get("charset")
        data = q.get("t", "").encode(cs or "utf-8")
        ctype = f"text/plain; charset={cs}" if cs else "text/plain"
        await _respond(send, 200, data, [(b"content-type", ctype.encode())])
    else:
        await _respond(send, 404, b"not found", [])


@pytest.fixture(scope="session")
def semantics_server(server_loop: LoopThread) -> Iterator[HypercornServer]:
    with serving(server_loop, app) as server:
        yield server


@pytest.fixture(scope="session")
def semantics_tls_server(
    server_loop: LoopThread, server_cert_files: dict[str, str]
) -> Iterator[HypercornServer]:
    with serving(server_loop, app, server_cert_files, alpn_protocols=["http/1.1"]) as server:
        yield server


@pytest.fixture(scope="session")
def semantics_h3_server(
    server_loop: LoopThread, server_cert_files: dict[str, str]
) -> Iterator[HypercornServer]:
    """The semantics app over HTTP/3 (QUIC) too."""
    with serving(server_loop, app, server_cert_files, quic=True) as server:
        yield server
