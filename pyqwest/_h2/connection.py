"""H2Connection: one HTTP/2 connection (an asyncio protocol over a `cpqwest._h2core.H2Core`)
and ALPNNegotiator, which hands a TLS connection to it or to HTTP/1.1 as ALPN decided.

Each read goes to the core at once (asyncio.BufferedProtocol: into the core's own buffer);
it calls the streams' and our `_on_*` methods as frames complete, and whatever it queued
(acks, window updates) goes out in one `transport.write` at the end of that read. Frames
produced outside a read (new requests, resets, body data) are flushed once per event-loop
iteration, so requests started together share one write.

Flow control: the connection window is raised to `CONN_WINDOW` and connection-level data is
acknowledged (by the core) as it arrives, so one slow stream never stalls the others
(streams: stream.py).
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cpqwest._errors import RemoteProtocolError
from cpqwest._h2core import H2Core, ProtocolError

from .errors import reason
from .headers import MAX_HEAD_BYTES, MAX_HEADER_FIELDS
from .stream import H2Stream, upload

if TYPE_CHECKING:
    from .pool import H2Pool

# Receive windows: the connection's is raised at once; streams' via SETTINGS.
CONN_WINDOW = 16 << 20
STREAM_WINDOW = 4 << 20
# Connection window updates are sent in batches of at least this much received data.
CONN_ACK_BATCH = CONN_WINDOW // 4
# The largest frame we accept (the peer may send smaller ones).
MAX_FRAME_SIZE = 1 << 18
# Linux only: ask for immediate ACKs (see H2Connection.buffer_updated)
_TCP_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


class H2Connection(asyncio.BufferedProtocol):
    """One HTTP/2 connection: an asyncio protocol driving an `H2Core`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, key: Any) -> None:
        self.loop = loop
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.h2 = H2Core(
            self,
            STREAM_WINDOW,
            CONN_WINDOW,
            MAX_FRAME_SIZE,
            MAX_HEAD_BYTES,
            MAX_HEADER_FIELDS,
            CONN_ACK_BATCH,
        )
        self.streams: dict[int, H2Stream] = self.h2.streams  # the open ones (the core's)
        self.max_streams = 100  # the peer's SETTINGS_MAX_CONCURRENT_STREAMS once known
        self.usable = True  # takes new streams (not closed, no GOAWAY)
        self.closed = False
        self.served = 0  # streams completed: a later failure may be a stale connection
        self.write_paused = False
        self.pool: H2Pool | None = None
        self.idle_since = 0.0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._ready: asyncio.Future[None] | None = loop.create_future()
        self._cap_waiters: deque[asyncio.Future[None]] = deque()
        self._write_waiters: list[asyncio.Future[None]] = []
        self._blocked: set[H2Stream] = set()  # streams waiting for flow-control window
        self._flush_pending = False
        self._goaway_last = -1  # last-stream-id of a graceful GOAWAY being drained
        self._sock: Any = None  # the TCP socket, where TCP_QUICKACK exists

    # --- asyncio protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if _TCP_QUICKACK is not None:
            self._sock = transport.get_extra_info("socket")
        self.h2.initiate()
        self.flush()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.h2.get_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        self._read(self.h2.buffer_updated, nbytes)

    def data_received(self, data: bytes) -> None:
        self._read(self.h2.receive_data, data)

    def _read(self, feed: Callable[[Any], None], arg: Any) -> None:
        try:
            feed(arg)
        except ProtocolError as exc:
            self.flush()  # the core queued a GOAWAY
            self._fail(RemoteProtocolError(f"connection error detected: {exc}"))
            return
        self.flush()
        if self.streams and self._sock is not None:
            self._quickack()

    def _quickack(self) -> None:
        # More is expected. Servers that write HTTP/2 with Nagle's algorithm on (nginx does)
        # hold a response's last small segment until what they sent before is acknowledged,
        # and Linux delays that ACK by up to 40 ms when the reader keeps up: measured, a third
        # to a half of 1 MiB downloads from nginx took 40 ms more. One setsockopt per read
        # (most reads carry many responses) makes the kernel acknowledge at once.
        try:
            self._sock.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)
        except (OSError, AttributeError):
            self._sock = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._ready is not None and not self._ready.done():
            # still connecting (a TLS 1.3 server rejecting our certificate looks like this)
            cause: BaseException = (
                exc if isinstance(exc, OSError)
                else ConnectionError("connection closed before the server's HTTP/2 SETTINGS")
            )
        elif exc is None:
            cause = RemoteProtocolError("connection closed by the server")
        elif isinstance(exc, OSError):
            cause = exc
        else:
            cause = ConnectionResetError(str(exc))
        self._fail(cause)
        self._wake_writers()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self._wake_writers()

    def _wake_writers(self) -> None:
        waiters, self._write_waiters = self._write_waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    # --- writing ----------------------------------------------------------------------------
    def flush(self) -> None:
        self._flush_pending = False
        data = self.h2.data_to_send()
        if data and not self.closed:
            self.transport.write(data)  # type: ignore[union-attr]

    def flush_soon(self) -> None:
        if not self._flush_pending:
            self._flush_pending = True
            try:
                self.loop.call_soon(self.flush)
            except RuntimeError:  # the loop is closed
                self._flush_pending = False

    def writable(self) -> asyncio.Future[None]:
        w = self.loop.create_future()
        self._write_waiters.append(w)
        return w

    # --- streams ----------------------------------------------------------------------------
    def ready(self) -> asyncio.Future[None] | None:
        """None once the server's SETTINGS arrived, else a future resolved then (or failed
        with the reason the connection broke first)."""
        return self._ready

    @property
    def available(self) -> bool:
        return self.usable and len(self.streams) < self.max_streams

    def open_stream(
        self,
        headers: list[tuple[str, str]],
        body: Any,
        buffered: bool,
        timeout: float | None,
        read_timeout: float | None,
    ) -> H2Stream:
        """Start a request (the caller checked `available`)."""
        stream = H2Stream(self, buffered)
        self.h2.open_stream(stream, headers, body is None)
        if isinstance(body, bytes):
            stream._send_body(body)
        elif body is not None:
            stream.upload_task = self.loop.create_task(upload(stream, body))
        if timeout is not None or read_timeout is not None:
            stream._start_timers(timeout, read_timeout)
        self.flush_soon()
        return stream

    def wait_capacity(self) -> asyncio.Future[None]:
        w = self.loop.create_future()
        self._cap_waiters.append(w)
        return w

    def wake_capacity(self, n: int = 1) -> None:
        waiters = self._cap_waiters
        while waiters and n:
            w = waiters.popleft()
            if not w.done():
                w.set_result(None)
                n -= 1

    def _stream_closed(self, stream: H2Stream) -> None:
        """The core closed `stream` (it left `streams`)."""
        if stream.message_done:
            self.served += 1
        if self._cap_waiters:
            self.wake_capacity()
        if not self.streams:
            if self._goaway_last >= 0 or not self.usable:
                # draining after a GOAWAY (or its pool closed): done now
                self.close()
            else:
                self._went_idle()

    def _on_window(self) -> None:
        """The connection's send window grew (a stream's: the core tells the stream)."""
        if self._blocked:
            for s in list(self._blocked):
                s._wake_sender()

    def _on_settings(self) -> None:
        limit = self.h2.max_concurrent_streams
        self.max_streams = limit if limit is not None else 1 << 31
        w = self._ready
        if w is not None:
            self._ready = None
            if not w.done():
                w.set_result(None)
        if self._cap_waiters:
            self.wake_capacity(max(0, self.max_streams - len(self.streams)))
        # the initial window may have changed: blocked senders look again
        self._on_window()

    def _on_goaway(self, error_code: int, last_stream_id: int) -> None:
        self._unusable()
        for s in list(self.streams.values()):
            if s.id > last_stream_id:
                # never processed by the server: safe to send again elsewhere
                s.retryable = True
                self.h2.discard(s)
                s._fail(RemoteProtocolError(
                    f"connection error received: {reason(error_code)} (GOAWAY, stream not "
                    "processed)"
                ))
        if error_code != 0:
            self._fail(RemoteProtocolError(f"connection error received: {reason(error_code)}"))
            return
        # graceful: the streams the server still processes finish
        self._goaway_last = last_stream_id
        if not self.streams:
            self.close()

    def _unusable(self) -> None:
        if self.usable:
            self.usable = False
            pool = self.pool
            if pool is not None:
                pool.forget(self)
        # waiters for a slot look for another connection
        self.wake_capacity(len(self._cap_waiters))

    def _fail(self, cause: BaseException) -> None:
        """The connection is broken: every stream on it fails, it leaves the pool."""
        self._unusable()
        w = self._ready
        if w is not None and not w.done():
            # kept: whoever asks `ready()` later (the connector) gets the failure too
            w.set_exception(cause)
            w.exception()  # retrieved: nobody may be waiting
        stale = self.served > 0
        for s in list(self.streams.values()):
            if stale and not s.got_bytes:
                s.retryable = True
            s.closed = True
            s._fail(cause)
        self.streams.clear()
        self.close()

    def _went_idle(self) -> None:
        pool = self.pool
        if pool is None:
            return
        if pool.max_idle == 0 or pool.closed:
            self.close()
            return
        self.idle_since = self.loop.time()
        if self._idle_timer is None and pool.idle_timeout is not None:
            self._idle_timer = self.loop.call_at(
                self.idle_since + pool.idle_timeout, self._on_idle_timer
            )

    def _on_idle_timer(self) -> None:
        self._idle_timer = None
        pool = self.pool
        if self.closed or self.streams or pool is None or pool.idle_timeout is None:
            return
        due = self.idle_since + pool.idle_timeout
        if self.loop.time() >= due:
            self.close()
        else:
            self._idle_timer = self.loop.call_at(due, self._on_idle_timer)

    def close(self) -> None:
        """Close politely (GOAWAY) and for good; streams still open fail."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        self._unusable()
        if self.closed:
            return
        self.closed = True
        if self.streams:
            for s in list(self.streams.values()):
                s.closed = True
                s._fail(ConnectionResetError("connection closed"))
            self.streams.clear()
        t = self.transport
        if t is None or t.is_closing():
            return
        try:
            self.h2.close_connection()
            data = self.h2.data_to_send()
            if data:
                t.write(data)
            t.close()
        except RuntimeError:
            # its event loop is closed already: close the socket itself
            sock = t.get_extra_info("socket")
            raw = getattr(sock, "_sock", sock)
            if isinstance(raw, socket.socket):
                raw.close()


class ALPNNegotiator(asyncio.Protocol):
    """The protocol of a TLS connection whose HTTP version ALPN decides: at `connection_made`
    (after the handshake) it installs the real protocol, before any byte can arrive."""

    def __init__(
        self, make_h1: Callable[[], asyncio.BaseProtocol], make_h2: Callable[[], H2Connection]
    ) -> None:
        self._make_h1 = make_h1
        self._make_h2 = make_h2
        self.protocol: asyncio.BaseProtocol | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        ssl_object = transport.get_extra_info("ssl_object")
        alpn = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        proto = self._make_h2() if alpn == "h2" else self._make_h1()
        self.protocol = proto
        transport.set_protocol(proto)
        proto.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        proto = self.protocol
        if proto is not None:
            proto.connection_lost(exc)
