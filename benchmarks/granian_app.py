"""The benchmark routes as an RSGI app, for granian (the server when nginx cannot be had)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenarios import BIG_SIZE, TINY_BODY

HEADERS = [("content-type", "application/octet-stream")]
BODIES = {"/tiny": TINY_BODY, "/upload": TINY_BODY, "/1m": bytes(range(256)) * (BIG_SIZE // 256)}


async def app(scope, protocol) -> None:
    if scope.proto != "http":
        return
    path = scope.path
    if path == "/upload":
        await protocol()  # read and drop the request body
    if path == "/proto":  # its length tells the driver the protocol (scenarios.PROTO_LEN)
        body = b"h2" if scope.http_version == "2" else b"http/1"
    else:
        body = BODIES.get(path)
    if body is None:
        protocol.response_bytes(404, HEADERS, b"not found")
    else:
        protocol.response_bytes(200, HEADERS, body)
