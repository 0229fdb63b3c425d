"""A raw HTTP/2 server built on the ``h2`` library, for HTTP/2 fault tests (RST_STREAM, GOAWAY,
SETTINGS_MAX_CONCURRENT_STREAMS, garbage frames...).

Plain TCP (h2c, prior knowledge) by default, TLS with ALPN ``h2`` when given an SSL context.
Per request, ``server.handler(req: H2Request)`` runs as a task on the server loop as soon as the
request head arrives (the body streams into ``req``). With no handler, requests are answered
``200`` with body ``b"ok"``. ``server.on_connect(conn)`` (optional) runs once per connection
after the preface exchange, alongside the requests; ``server.after_preface(index)`` gives raw
bytes sent in the same write as connection ``index``'s SETTINGS (default none).

Observations (thread-safe to read from the test's loop): ``connections``, ``requests`` (every
H2Request in arrival order), ``resets`` (``(stream_id, error_code)`` received from the client),
``frames`` (``(frame type name, stream_id)`` of every frame received, before h2 judges it),
``max_open`` (most streams open at once on one connection), ``errors`` (handler failures).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import hyperframe.frame

from .loop_thread import LoopThread
from .scripted import PEER_GONE

Handler = Callable[["H2Request"], Awaitable[None]]


class H2Request:
    """One request stream (server side)."""

    def __init__(self, conn: H2ServerConn, stream_id: int, headers: list[tuple[str, str]]) -> None:
        self.conn = conn
        self.stream_id = stream_id
        self.headers = headers
        self.chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.body = b""
        self.ended = asyncio.Event()
        self.reset_code: int | None = None
        self.task: asyncio.Task[None] | None = None

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def getall(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]

    @property
    def method(self) -> str:
        return self.header(":method") or ""

    @property
    def path(self) -> str:
        return self.header(":path") or ""

    async def read_body(self) -> bytes:
        out = bytearray()
        while True:
            chunk = await self.chunks.get()
            if chunk is None:
                break
            out += chunk
        self.body = bytes(out)
        return self.body

    async def send_headers(
        self, status: int = 200, headers: list[tuple[str, str]] | None = None, end: bool = False
    ) -> None:
        hdrs = [(":status", str(status)), *(headers or [])]
        self.conn.h2.send_headers(self.stream_id, hdrs, end_stream=end)
        await self.conn.flush()

    async def send_data(self, data: bytes, end: bool = False) -> None:
        """Send with flow control (waits for window updates)."""
        conn = self.conn
        view = memoryview(data)
        while view:
            window = conn.h2.local_flow_control_window(self.stream_id)
            size = min(len(view), window, conn.h2.max_outbound_frame_size)
            if size <= 0:
                await conn.window_changed()
                continue
            conn.h2.send_data(self.stream_id, view[:size].tobytes())
            view = view[size:]
            await conn.flush()
        if end:
            conn.h2.end_stream(self.stream_id)
            await conn.flush()

    async def send_trailers(self, trailers: list[tuple[str, str]]) -> None:
        self.conn.h2.send_headers(self.stream_id, trailers, end_stream=True)
        await self.conn.flush()

    async def respond(
        self,
        status: int = 200,
        body: bytes = b"",
        headers: list[tuple[str, str]] | None = None,
        trailers: list[tuple[str, str]] | None = None,
    ) -> None:
        hdrs = list(headers or [])
        if not any(k == "content-length" for k, _ in hdrs) and not trailers:
            hdrs.append(("content-length", str(len(body))))
        await self.send_headers(status, hdrs, end=not body and not trailers)
        if body:
            await self.send_data(body, end=not trailers)
        if trailers:
            await self.send_trailers(trailers)

    async def reset(self, code: int = h2.errors.ErrorCodes.CANCEL) -> None:
        self.conn.h2.reset_stream(self.stream_id, code)
        await self.conn.flush()


class _CountingH2(h2.connection.H2Connection):
    """h2's connection, noting every frame received in ``frames``."""

    def __init__(self, config: h2.config.H2Configuration, frames: list[tuple[str, int]]) -> None:
        super().__init__(config)
        self._frames = frames

    def _receive_frame(self, frame: Any) -> Any:
        self._frames.append((type(frame).__name__, frame.stream_id))
        return super()._receive_frame(frame)


class H2ServerConn:
    """One accepted connection."""

    def __init__(
        self,
        server: H2RawServer,
        index: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.server = server
        self.index = index
        self.reader = reader
        self.writer = writer
        config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self.h2 = _CountingH2(config, server.frames)
        self.requests: dict[int, H2Request] = {}
        self.open_streams: set[int] = set()
        self._window = asyncio.Event()
        self.closed = False
        self.client_eof = False

    async def flush(self) -> None:
        data = self.h2.data_to_send()
        if data and not self.closed:
            self.writer.write(data)
            with contextlib.suppress(*PEER_GONE):
                await self.writer.drain()

    async def window_changed(self) -> None:
        self._window.clear()
        await self._window.wait()

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def goaway(self, code: int = 0, last_stream_id: int | None = None) -> None:
        """Send GOAWAY as a raw frame: h2 would refuse to send anything after it, and a
        graceful GOAWAY lets the streams up to ``last_stream_id`` finish."""
        await self.flush()
        if last_stream_id is None:
            last_stream_id = self.h2.highest_inbound_stream_id
        frame = hyperframe.frame.GoAwayFrame(0, last_stream_id=last_stream_id, error_code=code)
        await self.send_raw(frame.serialize())

    async def close(self) -> None:
        self.closed = True
        if self.writer.is_closing():  # (a GOAWAY from the client sets `closed` first)
            return
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), 5)

    def abort(self) -> None:
        self.closed = True
        self.writer.transport.abort()

    def _stream_done(self, stream_id: int) -> None:
        self.open_streams.discard(stream_id)

    async def run(self) -> None:
        srv = self.server
        self.h2.local_settings = h2.settings.Settings(
            client=False, initial_values=dict(srv.settings)
        )
        self.h2.initiate_connection()
        preface = self.h2.data_to_send()
        self.writer.write(preface + srv.after_preface(self.index))
        await self.flush()
        if srv.on_connect is not None:
            task = asyncio.ensure_future(srv.on_connect(self))
            srv._tasks.add(task)
            task.add_done_callback(srv._task_done)
        while not self.closed:
            try:
                data = await self.reader.read(65536)
            except PEER_GONE:
                break
            if not data:
                self.client_eof = True
                break
            try:
                events = self.h2.receive_data(data)
            except h2.exceptions.ProtocolError as exc:
                srv.protocol_errors.append(exc)
                await self.flush()
                break
            for ev in events:
                self._on_event(ev)
            await self.flush()
        await self.close()

    def _on_event(self, ev: Any) -> None:
        srv = self.server
        if isinstance(ev, h2.events.RequestReceived):
            req = H2Request(self, ev.stream_id, list(ev.headers))
            self.requests[ev.stream_id] = req
            self.open_streams.add(ev.stream_id)
            srv.max_open = max(srv.max_open, len(self.open_streams))
            srv.requests.append(req)
            req.task = asyncio.ensure_future(self._handle(req))
            srv._tasks.add(req.task)
            req.task.add_done_callback(srv._task_done)
        elif isinstance(ev, h2.events.DataReceived):
            req = self.requests.get(ev.stream_id)
            if ev.flow_controlled_length:
                with contextlib.suppress(h2.exceptions.StreamClosedError):
                    self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            if req is not None:
                req.chunks.put_nowait(ev.data)
        elif isinstance(ev, h2.events.StreamEnded):
            req = self.requests.get(ev.stream_id)
            if req is not None:
                req.ended.set()
                req.chunks.put_nowait(None)
        elif isinstance(ev, h2.events.StreamReset):
            srv.resets.append((ev.stream_id, int(ev.error_code)))
            self._stream_done(ev.stream_id)
            req = self.requests.get(ev.stream_id)
            if req is not None:
                req.reset_code = int(ev.error_code)
                req.chunks.put_nowait(None)
                if req.task is not None:
                    req.task.cancel()
        elif isinstance(ev, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
            self._window.set()
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.closed = True

    async def _handle(self, req: H2Request) -> None:
        try:
            handler = self.server.handler
            if handler is None:
                await req.read_body()
                await req.respond(200, b"ok")
            else:
                await handler(req)
        except asyncio.CancelledError:
            pass
        except (*PEER_GONE, h2.exceptions.StreamClosedError):
            pass
        except BaseException as exc:
            self.server.errors.append(exc)
        finally:
            self._stream_done(req.stream_id)


class H2RawServer:
    """Listens on 127.0.0.1 and speaks HTTP/2 through h2 (server side)."""

    def __init__(
        self,
        loop_thread: LoopThread,
        handler: Handler | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_concurrent_streams: int | None = None,
        settings: dict[int, int] | None = None,
    ) -> None:
        self._lt = loop_thread
        self.handler = handler
        self.on_connect: Callable[[H2ServerConn], Awaitable[None]] | None = None
        # raw bytes sent with connection number N's SETTINGS, in the same write
        self.after_preface: Callable[[int], bytes] = lambda index: b""
        self.ssl_context = ssl_context
        self.settings: dict[int, int] = {
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: max_concurrent_streams or 1000,
            **(settings or {}),
        }
        self.connections: list[H2ServerConn] = []
        self.requests: list[H2Request] = []
        self.resets: list[tuple[int, int]] = []
        self.frames: list[tuple[str, int]] = []
        self.errors: list[BaseException] = []
        self.protocol_errors: list[BaseException] = []
        self.max_open = 0
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self.port = 0

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.errors.append(task.exception())  # type: ignore[arg-type]

    def start(self) -> H2RawServer:
        async def _start() -> None:
            self._server = await asyncio.start_server(
                self._on_connect, "127.0.0.1", 0, ssl=self.ssl_context
            )
            self.port = self._server.sockets[0].getsockname()[1]

        self._lt.run(_start())
        return self

    def stop(self) -> None:
        async def _stop() -> None:
            if self._server is not None:
                self._server.close()
            for conn in self.connections:
                if not conn.closed:
                    conn.abort()
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=5)

        self._lt.run(_stop())

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = H2ServerConn(self, len(self.connections), reader, writer)
        self.connections.append(conn)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await conn.run()
        except asyncio.CancelledError:
            pass
        except PEER_GONE:
            pass
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            self._tasks.discard(task)
            if not conn.closed:
                conn.abort()

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def url_for(self, path: str = "/") -> str:
        return self.url + path

    async def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 10, what: str = "condition"
    ) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.01)
