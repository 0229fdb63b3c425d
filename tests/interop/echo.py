"""The upload echo backend: an ASGI app that answers a request with its body, byte for byte.
Servers that cannot echo themselves proxy /echo to it, so they receive the upload (chunked,
Content-Length or HTTP/2 DATA) from pyqwest. It answers once the whole body is in: a proxy
that sends the request before reading the response would stall on a streamed echo."""

from __future__ import annotations

from typing import Any


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer 200 with the request body (application/octet-stream)."""
    if scope["type"] != "http":
        return  # lifespan: nothing to set up (hypercorn goes on without it)
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    await send({
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"application/octet-stream"),
                    (b"content-length", b"%d" % len(body))],
    })
    await send({"type": "http.response.body", "body": body})
