"""A raw asyncio server for misbehaving-peer tests.

The test supplies ``handler: async (conn: Conn) -> None``, run once per accepted connection on
the server's loop thread. When the handler returns, the connection is closed with a FIN (unless
the handler already closed or reset it). Helpers build common handlers (:func:`canned`,
:func:`keep_alive`). Server-side observations (accepted connections, client EOF, requests seen)
are thread-safe to read from the test's loop; wait for them with :meth:`ScriptedServer.wait_for`.

Exceptions raised by a handler (other than the peer going away) are collected in
``server.errors``; the fixture fails the test at teardown if any were recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .loop_thread import LoopThread

Handler = Callable[["Conn"], Awaitable[None]]

PEER_GONE = (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError)


@dataclass
class RawRequest:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes
    raw_head: bytes
    chunked: bool = False
    trailers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def getall(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]


class Conn:
    """One accepted connection (server side)."""

    def __init__(
        self,
        server: ScriptedServer,
        index: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.server = server
        self.index = index
        self.reader = reader
        self.writer = writer
        self.requests: list[RawRequest] = []
        self.client_eof = threading.Event()  # the client closed its side (seen by a read)
        self.done = threading.Event()  # handler finished and the socket is closed
        self._closed = False
        peer = writer.get_extra_info("peername")
        self.peer_port: int = peer[1] if peer else 0

    # -- introspection ------------------------------------------------------------------------
    @property
    def peercert(self) -> dict | None:
        return self.writer.get_extra_info("peercert")

    def client_subject(self) -> str | None:
        """RFC 4514 subject of the client certificate (``CN=..,OU=..,O=..``), if any."""
        cert = self.peercert
        if not cert:
            return None
        short = {"commonName": "CN", "organizationalUnitName": "OU", "organizationName": "O"}
        rdns = []
        for rdn in cert.get("subject", ()):
            rdns.append("+".join(f"{short.get(k, k)}={v}" for k, v in rdn))
        return ",".join(reversed(rdns))

    # -- reading ------------------------------------------------------------------------------
    async def read_request(self, *, body: bool = True) -> RawRequest | None:
        """Read one request head (and its body unless ``body=False``); None on clean EOF."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                self.client_eof.set()
                return None
            raise
        except asyncio.LimitOverrunError:
            raise
        lines = head[:-4].decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.append((k.strip(), v.strip()))
        req = RawRequest(method, target, version, headers, b"", head)
        te = (req.header("transfer-encoding") or "").lower()
        req.chunked = "chunked" in te
        if body:
            await self.read_body(req)
        self.requests.append(req)
        return req

    async def read_body(self, req: RawRequest) -> bytes:
        if req.chunked:
            out = bytearray()
            async for chunk in self.iter_chunks():
                out += chunk
            req.body = bytes(out)
        else:
            n = int(req.header("content-length") or 0)
            req.body = await self.reader.readexactly(n) if n else b""
        return req.body

    async def iter_chunks(self):  # type: ignore[no-untyped-def]
        """Yield the chunks of a chunked request body as they arrive (stops after the last)."""
        while True:
            line = await self.reader.readuntil(b"\r\n")
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                # trailer section
                while (await self.reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return
            data = await self.reader.readexactly(size)
            await self.reader.readexactly(2)
            yield data

    async def wait_client_close(self, timeout: float | None = 30) -> bool:
        """Read and discard until the client closes (EOF/reset). True if it did within timeout."""

        async def drain() -> None:
            try:
                while await self.reader.read(65536):
                    pass
            except PEER_GONE:
                pass
            self.client_eof.set()

        try:
            await asyncio.wait_for(drain(), timeout)
            return True
        except TimeoutError:
            return False

    # -- writing ------------------------------------------------------------------------------
    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send_response(
        self,
        status: int = 200,
        body: bytes = b"",
        headers: list[tuple[str, str]] | None = None,
        *,
        reason: str = "OK",
        close: bool = False,
    ) -> None:
        hdrs = list(headers or [])
        names = {k.lower() for k, _ in hdrs}
        if "content-length" not in names and "transfer-encoding" not in names:
            hdrs.append(("content-length", str(len(body))))
        if close:
            hdrs.append(("connection", "close"))
        head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs)
        await self.send(head.encode("latin-1") + b"\r\n" + body)

    async def close(self) -> None:
        """Graceful close (FIN)."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.writer.can_write_eof():
                self.writer.write_eof()
        except (OSError, RuntimeError):
            pass
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 5)
        except (TimeoutError, *PEER_GONE):
            pass

    def rst(self) -> None:
        """Abortive close: SO_LINGER 0 then abort -> the peer sees ECONNRESET."""
        if self._closed:
            return
        self._closed = True
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def hang(self, timeout: float = 55) -> None:
        """Never answer; return when the client goes away (or after ``timeout``)."""
        await self.wait_client_close(timeout)


class ScriptedServer:
    """Listens on loopback; each accepted connection runs ``self.handler`` (set by the test)."""

    def __init__(
        self,
        loop_thread: LoopThread,
        handler: Handler | None = None,
        *,
        host: str = "127.0.0.1",
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = 100,
    ) -> None:
        self._lt = loop_thread
        self.handler: Handler | None = handler
        self.host = host
        self.ssl_context = ssl_context
        self.connections: list[Conn] = []
        self.errors: list[BaseException] = []
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._backlog = backlog
        self.port = 0

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> ScriptedServer:
        async def _start() -> None:
            self._server = await asyncio.start_server(
                self._on_connect,
                self.host,
                0,
                ssl=self.ssl_context,
                backlog=self._backlog,
                ssl_handshake_timeout=10 if self.ssl_context else None,
            )
            self.port = self._server.sockets[0].getsockname()[1]

        self._lt.run(_start())
        return self

    def stop(self) -> None:
        async def _stop() -> None:
            if self._server is not None:
                self._server.close()
            for conn in list(self.connections):
                if not conn._closed:
                    conn._closed = True
                    conn.writer.transport.abort()
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=5)
            if self._server is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._server.wait_closed(), 5)

        self._lt.run(_stop())

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = Conn(self, len(self.connections), reader, writer)
        self.connections.append(conn)
        try:
            handler = self.handler
            if handler is None:
                await conn.hang()
            else:
                await handler(conn)
        except asyncio.CancelledError:
            pass
        except PEER_GONE:
            pass
        except BaseException as exc:  # recorded, reported by the fixture
            self.errors.append(exc)
        finally:
            if not conn._closed:
                await conn.close()
            conn.done.set()
            self._tasks.discard(task)

    # -- test-side helpers --------------------------------------------------------------------
    @property
    def accepted(self) -> int:
        return len(self.connections)

    @property
    def scheme(self) -> str:
        return "https" if self.ssl_context else "http"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def url_for(self, path: str = "/") -> str:
        return self.url + path

    async def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 10, what: str = "condition"
    ) -> None:
        """Poll ``predicate`` from any event loop until true; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.01)

    async def wait_connections(self, n: int, timeout: float = 10) -> None:
        await self.wait_for(lambda: self.accepted >= n, timeout, f"{n} connection(s)")

    async def wait_done(self, conn: Conn, timeout: float = 10) -> None:
        await self.wait_for(conn.done.is_set, timeout, f"connection {conn.index} to finish")

    async def wait_client_eof(self, conn: Conn, timeout: float = 10) -> None:
        await self.wait_for(
            conn.client_eof.is_set, timeout, f"client EOF on connection {conn.index}"
        )


# -- ready-made handlers ----------------------------------------------------------------------


def canned(data: bytes, then: str = "close", *, read_request: bool = True) -> Handler:
    """Read one request, write ``data`` verbatim, then ``close`` (FIN), ``rst``, or ``hang``."""

    async def handler(conn: Conn) -> None:
        if read_request:
            req = await conn.read_request()
            if req is None:
                return
        if data:
            await conn.send(data)
        if then == "rst":
            await asyncio.sleep(0.05)  # let the bytes leave before the reset
            conn.rst()
        elif then == "hang":
            await conn.hang()
        elif then == "close":
            await conn.close()
        else:
            raise ValueError(then)

    return handler


def keep_alive(
    body: bytes | Callable[[Conn, RawRequest], bytes] = b"ok",
    *,
    max_requests: int | None = None,
    after: str = "close",
    headers: list[tuple[str, str]] | None = None,
) -> Handler:
    """Answer every request with 200 (keep-alive). After ``max_requests`` responses:
    ``after="close"`` closes while idle, ``"read-close"`` reads the next request then closes
    without answering, ``"read-rst"`` reads the next request then resets."""

    async def handler(conn: Conn) -> None:
        served = 0
        while max_requests is None or served < max_requests:
            req = await conn.read_request()
            if req is None:
                return
            data = body(conn, req) if callable(body) else body
            await conn.send_response(200, data, headers)
            served += 1
        if after == "close":
            await asyncio.sleep(0.05)
            await conn.close()
        elif after in ("read-close", "read-rst"):
            req = await conn.read_request()
            if req is None:
                return
            if after == "read-rst":
                conn.rst()
            else:
                await conn.close()
        elif after == "hang":
            await conn.hang()
        else:
            raise ValueError(after)

    return handler


def per_connection(*handlers: Handler) -> Handler:
    """Connection ``i`` runs ``handlers[i]``; later connections run the last one (e.g. a
    misbehaving first connection, then a healthy ``keep_alive()`` for the follow-up)."""

    async def handler(conn: Conn) -> None:
        await handlers[min(conn.index, len(handlers) - 1)](conn)

    return handler


def trickle(data: bytes, interval: float, *, read_request: bool = True) -> Handler:
    """Read one request, then send ``data`` one byte every ``interval`` seconds."""

    async def handler(conn: Conn) -> None:
        if read_request and await conn.read_request() is None:
            return
        for i in range(len(data)):
            await conn.send(data[i : i + 1])
            await asyncio.sleep(interval)
        await conn.hang()

    return handler


def relay(host: str, port: int) -> Handler:
    """Forward bytes both ways to ``host:port`` (e.g. the hypercorn TLS server, so TLS and ALPN
    pass through untouched) while the scripted server observes the client side: ``accepted``
    counts client connections and ``conn.client_eof`` is set when the client closes."""

    async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except PEER_GONE:
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                if dst.can_write_eof():
                    dst.write_eof()

    async def handler(conn: Conn) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, port)
        to_upstream = asyncio.ensure_future(pump(conn.reader, up_writer))
        to_client = asyncio.ensure_future(pump(up_reader, conn.writer))
        try:
            await to_upstream  # ends when the client closes (or resets) its side
            conn.client_eof.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(to_client), 2)
        finally:
            to_client.cancel()
            up_writer.close()
            with contextlib.suppress(Exception):
                await up_writer.wait_closed()

    return handler
