"""The floor: a minimal raw asyncio.Protocol HTTP/1.1 client.

Pre-built request bytes, one write; parses only the status line and Content-Length and counts body
bytes without keeping them; a per-host idle list. The least Python work per request the event loop
allows, so the gap between a client and this row is that client's own overhead.
"""

from __future__ import annotations

import asyncio
import platform
from urllib.parse import urlsplit

from common import Config, Unsupported


def version() -> str:
    return f"python {platform.python_version()}"


class _Conn(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future | None = None
        self.head = b""  # bytes of a response head not yet complete
        self.status = 0
        self.remaining = -1  # body bytes still expected; -1 while reading the head
        self.received = 0

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.remaining < 0:
            head = self.head + data
            end = head.find(b"\r\n\r\n")
            if end < 0:
                self.head = head
                return
            self.head = b""
            self.status = int(head[9:12])
            at = head.lower().find(b"\r\ncontent-length:", 0, end)
            self.remaining = int(head[at + 17 : head.index(b"\r\n", at + 2)]) if at >= 0 else 0
            self.received = 0
            data = head[end + 4 :]
        self.received += len(data)
        self.remaining -= len(data)
        if self.remaining <= 0:
            self.remaining = -1
            waiter, self.waiter = self.waiter, None
            if waiter is not None and not waiter.done():
                waiter.set_result((self.status, self.received))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc or ConnectionError("connection closed mid-response"))


class Session:
    def __init__(self, cfg: Config) -> None:
        self.ssl = cfg.ssl_context() if cfg.tls else None
        self.idle: list[_Conn] = []
        self.requests: dict[tuple[str, int], tuple[bytes, str, int]] = {}

    def _prepare(self, method: str, url: str, body: bytes) -> tuple[bytes, str, int]:
        key = (url, len(body))
        req = self.requests.get(key)
        if req is None:
            u = urlsplit(url)
            head = f"{method} {u.path or '/'} HTTP/1.1\r\nHost: {u.netloc}\r\n"
            if body:
                head += f"Content-Length: {len(body)}\r\n"
            req = self.requests[key] = ((head + "\r\n").encode() + body, u.hostname, u.port)
        return req

    async def _send(self, method: str, url: str, body: bytes = b"") -> tuple[int, int]:
        data, host, port = self._prepare(method, url, body)
        idle = self.idle
        while idle:
            conn = idle.pop()
            if conn.transport is not None:
                break
        else:
            loop = asyncio.get_running_loop()
            _, conn = await loop.create_connection(_Conn, host, port, ssl=self.ssl)
        conn.waiter = waiter = asyncio.get_running_loop().create_future()
        conn.transport.write(data)
        result = await waiter
        idle.append(conn)
        return result

    def get(self, url: str):
        return self._send("GET", url)

    def stream(self, url: str):  # the floor never keeps the body, so streaming is the same
        return self._send("GET", url)

    def post(self, url: str, data: bytes):
        return self._send("POST", url, data)

    async def aclose(self) -> None:
        for conn in self.idle:
            if conn.transport is not None:
                conn.transport.close()
        self.idle.clear()


async def open_client(cfg: Config) -> Session:
    if cfg.http != 1:
        raise Unsupported("the floor speaks HTTP/1.1 only")
    if cfg.proxy:
        raise Unsupported("the floor speaks to origins only (no proxy)")
    return Session(cfg)
