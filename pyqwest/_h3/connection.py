"""H3Connection: the asyncio driver of one HTTP/3 connection (a sans-IO `QuicCore` on a
connected UDP socket the event loop watches), and `open_h3`, which connects one.

The driver only moves datagrams and time: when the socket is readable it takes every datagram
waiting (`datagrams.read_batch`), the core sees them together, the events it returns go to the
`H3Stream`s; each QUIC timer that fires goes to the core too. What the core then wants sent,
and datagrams produced outside a read (new requests, body data, resets), are flushed once per
event-loop iteration: requests started together share a flight, and the acknowledgement of a
response rides in the packet of the request its reader sends next (one datagram, not two).
(asyncio's datagram transport would hand over one datagram per loop iteration, with a flush
each.)
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from typing import Any

from cpqwest._errors import RemoteProtocolError

from .._dns import AddrInfo
from .._h2.errors import STALE, UNPROCESSED
from .._mux import MuxConnection
from .core import Address, QuicCore
from .datagrams import fatal, read_batch, send_all
from .errors import H3_NO_ERROR, nearest
from .events import (
    Closed,
    Data,
    Event,
    GoAway,
    Head,
    Malformed,
    Ready,
    Reset,
    StopSending,
    Trailers,
    closed_cause,
)
from .stream import H3Stream


class H3Connection(MuxConnection):
    """One HTTP/3 connection to an origin: QUIC over a connected UDP socket."""

    streams: dict[int, H3Stream]  # type: ignore[assignment]

    def __init__(
        self, loop: asyncio.AbstractEventLoop, key: Any, core: QuicCore, addr: Address
    ) -> None:
        super().__init__(loop, key)
        self.core = core
        self.addr = addr
        self.sock: socket.socket | None = None  # None once closed
        self.max_streams = 1 << 62  # the limit is QUIC's stream credit: `free_slots`
        self._blocked: set[H3Stream] = set()  # streams waiting for their send queue to drain
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None

    # --- the socket -----------------------------------------------------------------------
    def attach(self, sock: socket.socket) -> None:
        """Start on `sock` (connected, non-blocking): watch it, send the first flight."""
        self.sock = sock
        self.loop.add_reader(sock.fileno(), self._on_readable)
        self.core.connect(self.addr, self.loop.time())
        self.flush()

    def _on_readable(self) -> None:
        sock = self.sock
        if sock is None:
            return
        got: list[bytes] = []
        exc = read_batch(sock, got)
        if got and not self.closed:
            self._dispatch(self.core.receive(got, self.addr, self.loop.time()))
        if exc is not None and not self.closed and fatal(exc, self._ready is None):
            self._fail(exc)
            return
        self.flush_soon()

    # --- sending and time -------------------------------------------------------------------
    def flush(self) -> None:
        self._flush_pending = False
        sock = self.sock
        if sock is None:
            return
        exc = send_all(sock, self.core.datagrams_to_send(self.loop.time()))
        if exc is not None and not self.closed and fatal(exc, self._ready is None):
            self._fail(exc)
            return
        self._arm_timer()

    def _arm_timer(self) -> None:
        at = self.core.timer()
        if at == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = at
        if at is not None and not self.closed:
            self._timer = self.loop.call_at(at, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self._dispatch(self.core.handle_timer(self.loop.time()))
        # with the rest of this iteration's sends: a due acknowledgement joins a request its
        # reader starts now, and a flush already queued stays the only one
        self.flush_soon()

    # --- events from the core ---------------------------------------------------------------
    def _dispatch(self, events: list[Event]) -> None:
        streams = self.streams
        for ev in events:
            if isinstance(ev, Data):
                s = streams.get(ev.stream_id)
                if s is not None:
                    if ev.data:
                        s._on_data(ev.data, len(ev.data))
                    if ev.ended:
                        s._on_end()
            elif isinstance(ev, Head):
                s = streams.get(ev.stream_id)
                if s is not None:
                    s._on_head(ev.headers)
                    if ev.ended and s.error is None:
                        s._on_end()
            elif isinstance(ev, Trailers):
                s = streams.get(ev.stream_id)
                if s is not None:
                    s._on_trailers(ev.headers)
                    s._on_end()
            elif isinstance(ev, Reset):
                s = streams.get(ev.stream_id)
                if s is not None:
                    s._on_reset(nearest(ev.code))
            elif isinstance(ev, StopSending):
                s = streams.get(ev.stream_id)
                if s is not None:
                    s._peer_stopped_reading()
            elif isinstance(ev, Malformed):
                s = streams.get(ev.stream_id)
                if s is not None:
                    s._fail_protocol(ev.reason)
            elif isinstance(ev, GoAway):
                self._on_goaway(ev.stream_id)
            elif isinstance(ev, Ready):
                w = self._ready
                self._ready = None
                if w is not None and not w.done():
                    w.set_result(None)
            else:
                self._on_closed(ev)
                return
        if self._blocked:
            # acknowledgements drained send queues: blocked senders look again
            for s in list(self._blocked):
                s._wake_sender()
        if self.slots:
            self.grant_slots()

    def _on_goaway(self, first_unprocessed: int) -> None:
        self._retire()
        for s in list(self.streams.values()):
            if s.id >= first_unprocessed:
                # never processed by the server: safe to send again elsewhere
                s.resend = UNPROCESSED
                s._closed_by_h2()
                s._fail(RemoteProtocolError(
                    "connection error received: GOAWAY, stream not processed"
                ))
        # the streams the server still processes finish, then the connection closes
        self._goaway_last = max(0, first_unprocessed - 4)
        if not self.streams:
            self.close()

    def _on_closed(self, ev: Closed) -> None:
        cause, unanswered_may_resend = closed_cause(ev, self._ready is not None)
        if unanswered_may_resend:
            for s in self.streams.values():
                if not s.got_bytes:
                    s.resend = STALE
        self._fail(cause)

    # --- streams ----------------------------------------------------------------------------
    def free_slots(self) -> int:
        return self.core.free_streams()

    def wait_capacity(self, first: bool = False) -> asyncio.Future[None]:
        if not self.slots:
            # the first to wait makes the server answer with the credit it may be holding back
            self.core.ask_credit()
            self.flush_soon()
        return super().wait_capacity(first)

    def open_stream(
        self,
        headers: list[tuple[str, str]],
        body: Any,
        buffered: bool,
        timeout: float | None,
        read_timeout: float | None,
    ) -> H3Stream:
        """Start a request (the caller checked `available`)."""
        sid = self.core.send_head(headers, body is None)
        stream = H3Stream(self, sid, buffered)  # type: ignore[arg-type]
        self._start(stream, body, timeout, read_timeout)
        return stream

    def close(self) -> None:
        """Close politely (CONNECTION_CLOSE, H3_NO_ERROR) and for good."""
        if not self._begin_close():
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        core = self.core
        if not core.closed:
            core.close(H3_NO_ERROR)
            self.flush()
        sock, self.sock = self.sock, None
        if sock is None:
            return
        with contextlib.suppress(RuntimeError):  # (an event loop closed already)
            self.loop.remove_reader(sock.fileno())
        sock.close()


async def open_h3(
    loop: asyncio.AbstractEventLoop,
    key: Any,
    infos: list[AddrInfo],
    new_core: Callable[[], QuicCore],
) -> H3Connection:
    """A new HTTP/3 connection, ready for requests (the QUIC handshake is done): the addresses
    in turn while one refuses (ICMP unreachable); the caller bounds the time."""
    for i, (family, _type, _proto, _name, sockaddr) in enumerate(infos):
        try:
            return await _handshake(H3Connection(loop, key, new_core(), sockaddr), family)
        except ConnectionRefusedError:
            if i == len(infos) - 1:
                raise
    raise ConnectionError("no address to connect to")


async def _handshake(conn: H3Connection, family: int) -> H3Connection:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.connect(conn.addr)  # UDP: no packet yet; ICMP errors come with later calls
    except BaseException:
        sock.close()
        raise
    conn.attach(sock)
    ready = conn.ready()
    if ready is not None:
        try:
            await ready
        except BaseException:
            conn.close()
            raise
    return conn


__all__ = ["H3Connection", "open_h3"]
