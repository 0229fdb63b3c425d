"""The "kitchensink" ASGI app (spec section 4) plus endpoints the HTTP/1.1 core tests need.

Every response carries ``x-conn-port: <client port>`` (the peer's TCP source port, i.e. an id of
the connection) so tests can count connections server-side.

Endpoints:

``/echo`` (any method)
    Response headers: ``x-echo-<name>: <value>`` for every request header (duplicates in order),
    ``x-echo-method``, ``x-echo-query-string``, ``x-echo-raw-path`` and the request's
    ``content-type`` echoed as the response content-type. The response starts before the request
    body is read; each request body chunk is written back as it arrives (full duplex), then, if the
    server supports the ASGI trailers extension (HTTP/2 in hypercorn) and the request had
    ``te: trailers``, the trailer ``x-echo-trailer: last info``.
    ``x-response-status: <code>`` sets the status; ``x-error-response`` (any value) makes the app
    raise right after the headers were sent.
``/bytes/<n>``       ``n`` bytes of :func:`payload` with ``content-length``
                     (``?chunk=`` write size).
``/chunked/<n>``     ``n`` bytes of :func:`payload` without content-length (chunked on
                     HTTP/1.1), in ``?chunks=`` (default 4) writes.
``/stall``           ``?where=body`` (default): headers (``content-length: 10``), then no
                     body until the client disconnects. ``?where=headers``: nothing until
                     the client disconnects, or, with ``&sleep=<s>``, sleep that long and
                     then answer ``200 ok``.
``/conn``            body = the client port as ASCII; ``?delay=<s>`` sleeps before answering,
                     ``?close=1`` adds ``connection: close``, ``?size=<n>`` sends ``n``
                     payload bytes instead.
``/status/<code>``   that status, body ``b"status <code>"`` (none for 204/304).
``/redirect/<n>``    ``n > 1``: ``?status=`` (default 302) to ``/redirect/<n-1>``; ``n == 1``: to
                     ``/echo``; ``n <= 0``: like ``/echo``. The query string is kept on each hop.
``/set-cookie``      ``set-cookie: <name>=<value>`` (``?name=testcookie&value=hello`` by default;
                     ``&attrs=`` appended verbatim).
``/slow-body``       ``?chunks=5&delay=0.05``: that many chunks ``b"chunk<i>\\n"``, sleeping
                     in between.
``/response-headers`` every query pair becomes a response header; body ``b"ok"``.
``/flaky/<key>``     the first ``?fail=`` (default 1) requests for ``<key>`` answer ``?status=``
                     (default 500, body ``b"fail <i>"``), later ones 200 ``b"ok"``; the
                     per-key count is app-wide, so each test uses its own key.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_PATTERN = bytes(range(256)) * 256  # 64 KiB

_flaky_counts: dict[str, int] = {}  # /flaky/<key>: requests seen per key


def payload(n: int, offset: int = 0) -> bytes:
    """Deterministic body bytes (so truncation or reordering is detected)."""
    out = bytearray()
    pos = offset % 256
    while len(out) < n:
        take = min(n - len(out), len(_PATTERN) - pos)
        out += _PATTERN[pos : pos + take]
        pos = 0
    return bytes(out)


class AppError(Exception):
    """Raised on purpose by ``x-error-response``."""


def _query(scope: Scope) -> dict[str, str]:
    return dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))


def _conn_header(scope: Scope) -> tuple[bytes, bytes]:
    client = scope.get("client") or ("", 0)
    return (b"x-conn-port", str(client[1]).encode())


async def _send_simple(
    scope: Scope,
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    content_length: bool = True,
) -> None:
    hdrs = [_conn_header(scope), *(headers or [])]
    if content_length:
        hdrs.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _drain_request(receive: Receive) -> bool:
    """Read the request body to its end; False if the client disconnected."""
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            return False
        if not msg.get("more_body", False):
            return True


async def _wait_disconnect(receive: Receive, limit: float = 55.0) -> None:
    async def loop() -> None:
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(loop(), limit)


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    req_headers: list[tuple[bytes, bytes]] = list(scope["headers"])
    headers: list[tuple[bytes, bytes]] = [_conn_header(scope)]
    status = 200
    error = False
    wants_trailers = False
    content_type: bytes | None = None
    for name, value in req_headers:
        lname = name.lower()
        headers.append((b"x-echo-" + lname, value))
        if lname == b"x-response-status":
            status = int(value)
        elif lname == b"x-error-response":
            error = True
        elif lname == b"te" and b"trailers" in value.lower():
            wants_trailers = True
        elif lname == b"content-type":
            content_type = value
    headers.append((b"x-echo-method", scope["method"].encode()))
    headers.append((b"x-echo-query-string", scope["query_string"]))
    headers.append((b"x-echo-raw-path", scope.get("raw_path") or scope["path"].encode()))
    if content_type is not None:
        headers.append((b"content-type", content_type))
    trailers = wants_trailers and "http.response.trailers" in scope.get("extensions", {})

    start: dict[str, Any] = {"type": "http.response.start", "status": status, "headers": headers}
    if trailers:
        start["trailers"] = True
    await send(start)
    if error:
        raise AppError("x-error-response requested")

    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            return
        body = msg.get("body", b"")
        more = msg.get("more_body", False)
        if body:
            await send({"type": "http.response.body", "body": body, "more_body": True})
        if not more:
            break
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    if trailers:
        await send(
            {
                "type": "http.response.trailers",
                "headers": [(b"x-echo-trailer", b"last info")],
                "more_trailers": False,
            }
        )


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return

    path: str = scope["path"]
    q = _query(scope)
    parts = [p for p in path.split("/") if p]
    head = parts[0] if parts else ""

    if head == "echo":
        await echo(scope, receive, send)
        return

    if head == "redirect" and len(parts) == 2:
        n = int(parts[1])
        if n <= 0:
            await echo(scope, receive, send)
            return
        await _drain_request(receive)
        target = "/echo" if n == 1 else f"/redirect/{n - 1}"
        if scope["query_string"]:
            target += "?" + scope["query_string"].decode("latin-1")
        await _send_simple(
            scope, send, int(q.get("status", "302")), b"", [(b"location", target.encode())]
        )
        return

    if not await _drain_request(receive):
        return

    if head == "bytes" and len(parts) == 2:
        n = int(parts[1])
        chunk = int(q.get("chunk", "65536"))
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    _conn_header(scope),
                    (b"content-length", str(n).encode()),
                    (b"content-type", b"application/octet-stream"),
                ],
            }
        )
        body = payload(n)
        for i in range(0, n, chunk):
            await send(
                {"type": "http.response.body", "body": body[i : i + chunk], "more_body": True}
            )
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    elif head == "chunked" and len(parts) == 2:
        n = int(parts[1])
        chunks = max(1, int(q.get("chunks", "4")))
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [_conn_header(scope), (b"content-type", b"application/octet-stream")],
            }
        )
        body = payload(n)
        size = -(-n // chunks) if n else 0
        for i in range(0, n, max(size, 1)):
            await send(
                {"type": "http.response.body", "body": body[i : i + size], "more_body": True}
            )
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    elif head == "stall":
        where = q.get("where", "body")
        if where == "headers":
            if "sleep" in q:
                await asyncio.sleep(float(q["sleep"]))
                await _send_simple(scope, send, 200, b"ok")
            else:
                await _wait_disconnect(receive)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [_conn_header(scope), (b"content-length", b"10")],
            }
        )
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        await _wait_disconnect(receive)
    elif head == "conn":
        if "delay" in q:
            await asyncio.sleep(float(q["delay"]))
        client = scope.get("client") or ("", 0)
        body = payload(int(q["size"])) if "size" in q else str(client[1]).encode()
        extra = [(b"connection", b"close")] if q.get("close") else []
        await _send_simple(scope, send, 200, body, extra)
    elif head == "status" and len(parts) == 2:
        code = int(parts[1])
        body = b"" if code in (204, 304) else f"status {code}".encode()
        await _send_simple(scope, send, code, body, content_length=code not in (204, 304))
    elif head == "set-cookie":
        name = q.get("name", "testcookie")
        value = q.get("value", "hello")
        cookie = f"{name}={value}{q.get('attrs', '')}".encode()
        await _send_simple(scope, send, 200, b"ok", [(b"set-cookie", cookie)])
    elif head == "slow-body":
        chunks = int(q.get("chunks", "5"))
        delay = float(q.get("delay", "0.05"))
        await send({"type": "http.response.start", "status": 200, "headers": [_conn_header(scope)]})
        for i in range(chunks):
            if i:
                await asyncio.sleep(delay)
            await send(
                {"type": "http.response.body", "body": f"chunk{i}\n".encode(), "more_body": True}
            )
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    elif head == "response-headers":
        extra = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        ]
        await _send_simple(scope, send, 200, b"ok", extra)
    elif head == "flaky" and len(parts) == 2:
        seen = _flaky_counts[parts[1]] = _flaky_counts.get(parts[1], 0) + 1
        if seen <= int(q.get("fail", "1")):
            await _send_simple(scope, send, int(q.get("status", "500")), f"fail {seen}".encode())
        else:
            await _send_simple(scope, send, 200, b"ok")
    else:
        await _send_simple(scope, send, 404, b"not found", [(b"content-type", b"text/plain")])
