"""H2Connection: one HTTP/2 connection (an asyncio protocol driving an h2 state machine) and
ALPNNegotiator, which hands a TLS connection to it or to HTTP/1.1 as ALPN decided.

Each read is handed to h2 at once; the events it returns are dispatched to the `H2Stream`s, and
whatever h2 wants to send (acks, window updates) goes out in one `transport.write` at the end
of that read. Frames produced outside a read (new requests, resets, body data) are flushed once
per event-loop iteration, so requests started together share one write.

Flow control: the connection window is raised to `CONN_WINDOW` and connection-level data is
acknowledged as it arrives, so one slow stream never stalls the others (streams: stream.py).

A server that stops reading while it keeps sending frames h2 must answer (PING, SETTINGS, frames
on closed streams) would grow our write buffer without end: past `MAX_UNREAD_ANSWERS` bytes of
answers queued while the transport is paused, the connection fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from typing import Any

import h2.exceptions

from cpqwest._errors import RemoteProtocolError

from .._mux import MuxConnection
from . import library
from .core import CONN_ACK_BATCH, CONN_WINDOW, MAX_FRAME_SIZE, READ_SIZE, SETTINGS
from .errors import reason
from .library import (
    ConnectionTerminated,
    DataReceived,
    RemoteSettingsChanged,
    ResponseReceived,
    StreamEnded,
    StreamReset,
    TrailersReceived,
    WindowUpdated,
)
from .resend import processed_limit
from .stream import H2Stream

# Bytes of answers (acks, resets) queued while the server does not read before we give up: as
# many as ~15000 PING acks (Go's HTTP/2 allows 10000 queued control frames, nghttp2 1000).
MAX_UNREAD_ANSWERS = 256 << 10


class H2Connection(MuxConnection, asyncio.BufferedProtocol):
    """One HTTP/2 connection: an asyncio protocol driving an h2 state machine."""

    streams: dict[int, H2Stream]  # type: ignore[assignment]

    def __init__(self, loop: asyncio.AbstractEventLoop, key: Any) -> None:
        super().__init__(loop, key)
        self.transport: asyncio.Transport | None = None
        self.h2 = library.new_state(SETTINGS, MAX_FRAME_SIZE)
        self._blocked: set[H2Stream] = set()  # streams waiting for flow-control window
        self._unread_answers = 0  # bytes h2 queued in answer to reads while writing was paused
        # What the loop reads into, for the connection's life: h2's frame reader copies what it
        # keeps. (As a plain Protocol, each read made a bytes object of the loop's read size,
        # 256 KiB, which the TLS layers allocate before they know what arrived: above malloc's
        # mmap threshold, an mmap, mremap and munmap per read.)
        self._view = memoryview(bytearray(READ_SIZE))

    # --- asyncio protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.h2.increment_flow_control_window(CONN_WINDOW - 65535)
        self.flush()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        data = self._view[:nbytes]
        h = self.h2
        paused = self.write_paused
        if paused:
            queued = library.queued_bytes(h)
        try:
            events: list[Any] = h.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self.flush()  # h2 queued a GOAWAY
            self._fail(RemoteProtocolError(f"connection error detected: {exc}"))
            return
        if paused and self._count_answers(library.queued_bytes(h) - queued):
            return
        streams = self.streams
        for ev in events:
            cls = ev.__class__
            if cls is DataReceived:
                n = ev.flow_controlled_length
                h.unacked += n
                s = streams.get(ev.stream_id)
                if s is not None:
                    s._on_data(ev.data, n)
            elif cls is ResponseReceived:
                s = streams.get(ev.stream_id)
                if s is not None:
                    s._on_head(ev.headers)
            elif cls is StreamEnded:
                s = streams.get(ev.stream_id)
                if s is not None:
                    s._on_end()
            elif cls is WindowUpdated:
                self._on_window(ev.stream_id)
            elif cls is TrailersReceived:
                s = streams.get(ev.stream_id)
                if s is not None:
                    s._on_trailers(ev.headers)
            elif cls is StreamReset:
                s = streams.get(ev.stream_id)
                if s is not None and ev.remote_reset:
                    s._on_reset(ev.error_code)
            elif cls is RemoteSettingsChanged:
                self._on_settings()
            elif cls is ConnectionTerminated:
                self._on_goaway(ev.error_code, ev.last_stream_id)
                if self.closed:
                    return
        if h.unacked >= CONN_ACK_BATCH:
            h.ack_connection()
        self.flush()

    def _count_answers(self, n: int) -> bool:
        """Count `n` bytes of answers queued while the server does not read; True when that
        made too many and the connection failed."""
        self._unread_answers += n
        if self._unread_answers <= MAX_UNREAD_ANSWERS:
            return False
        self._fail(RemoteProtocolError(
            "connection error detected: the server does not read the answers to its frames "
            f"(over {MAX_UNREAD_ANSWERS} bytes queued)"
        ))
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._ready is not None:
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

    def resume_writing(self) -> None:
        self._unread_answers = 0
        super().resume_writing()

    # --- writing ----------------------------------------------------------------------------
    def flush(self) -> None:
        self._flush_pending = False
        data = self.h2.data_to_send()
        if data and not self.closed:
            self.transport.write(data)  # type: ignore[union-attr]

    def open_stream(
        self,
        headers: list[tuple[str, str]],
        body: Any,
        buffered: bool,
        timeout: float | None,
        read_timeout: float | None,
    ) -> H2Stream:
        """Start a request (the caller checked `available`)."""
        h = self.h2
        sid = h.get_next_available_stream_id()
        h.send_headers(sid, headers, end_stream=body is None)
        stream = H2Stream(self, sid, buffered)
        self._start(stream, body, timeout, read_timeout)
        return stream

    def _on_window(self, stream_id: int) -> None:
        if stream_id:
            s = self.streams.get(stream_id)
            if s is not None:
                s._wake_sender()
        elif self._blocked:
            for s in list(self._blocked):
                s._wake_sender()

    def _on_settings(self) -> None:
        limit = self.h2.remote_settings.max_concurrent_streams
        self.max_streams = limit if limit is not None else 1 << 31
        w = self._ready
        if w is not None:
            self._ready = None
            if not w.done():
                w.set_result(None)
        if self.slots:
            self.grant_slots()
        # the initial window may have changed: blocked senders look again
        self._on_window(0)

    def _on_goaway(self, error_code: int, last_stream_id: int) -> None:
        self.processed = processed_limit(last_stream_id)
        if self.pool is not None:
            self.pool.rotation.ended(self.key, self.processed, self.opened)
        self._retire()
        for s in list(self.streams.values()):
            if s.id > last_stream_id:
                # never processed by the server: safe to send again elsewhere
                err = s.unprocessed(error_code)
                s._closed_by_h2()
                s._fail(err)
        if error_code != 0:
            self._fail(RemoteProtocolError(f"connection error received: {reason(error_code)}"))
            return
        # graceful: the streams the server still processes finish (see _StateMachine)
        self._goaway_last = last_stream_id
        if not self.streams:
            self.close()

    def close(self) -> None:
        """Close politely (GOAWAY) and for good; streams still open fail."""
        if not self._begin_close():
            return
        t = self.transport
        if t is None or t.is_closing():
            return
        if self.write_paused:
            # the server does not read: a polite close would wait for it forever
            t.abort()
            return
        try:
            with contextlib.suppress(h2.exceptions.H2Error):
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
