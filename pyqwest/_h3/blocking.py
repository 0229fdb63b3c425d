"""SyncH3Connection: HTTP/3 for SyncHTTPTransport, the sans-IO `QuicCore` driven over a
connected UDP socket by the threads that use it (no event-loop thread), and `open_h3_sync`.

The threads share it the way they share a `SyncH2Connection`, whose machinery it reuses: one
lock around the QUIC state; a thread that waits (for its head, body data, send room, stream
credit, the handshake) and finds nobody reading becomes the reader for everyone, then wakes
the streams its datagrams brought something for. The reader's wait in select() is also
bounded by the QUIC timer (loss recovery, ACK delay, the idle timeout), which it runs when
due; select, recv and send release the GIL. Only the wire differs from HTTP/2: datagrams in
and out of the core, qh3's stream credit instead of a stream limit, QUIC's send buffer
instead of flow-control windows.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Hashable

from cpqwest._h2fields import Malformed, response_fields

from .._dns import AddrInfo
from .._h2.errors import STALE
from .._sync_h2 import SlotWaiter, SyncH2Connection, SyncH2Stream, Unusable
from .._version import HTTPVersion
from . import events as h3
from .core import Address, Closing, QuicCore
from .datagrams import fatal, read_batch, send_all
from .errors import H3_NO_ERROR, h3_code, nearest
from .events import Event, closed_cause
from .stream import SEND_HIGH_WATER


class SyncH3Connection(SyncH2Connection):
    """One HTTP/3 connection to an origin shared by threads."""

    version = HTTPVersion.HTTP3

    def __init__(
        self, sock: socket.socket, key: Hashable, core: QuicCore, addr: Address
    ) -> None:
        super().__init__(sock, key)
        self.udp = sock  # `sock`, typed as what it is
        self.core = core
        self.addr = addr
        self.max_streams = 1 << 62  # the limit is QUIC's stream credit (`_free_slots`)
        self._timer_at: float | None = None  # the core's timer, as of the last flush
        self._inbox: list[bytes] = []  # datagrams the reader took, for `_receive`
        self._blocked: set[SyncH2Stream] = set()  # uploads waiting for their send buffer

    # --- setup -----------------------------------------------------------------------------
    def start(self, deadline: float | None) -> None:
        """Send the first flight and wait for the QUIC handshake."""
        with self.lock:
            self.core.connect(self.addr, time.monotonic())
            self._flush()
        self.wait(None, lambda: self._settings_seen, deadline)

    def take(self, idle_timeout: float | None) -> bool:
        # a connection idle in the pool had nobody to run its timer: its idle timeout may
        # have ended it already
        with self.lock:
            at = self._timer_at
            if not self.closed and at is not None and time.monotonic() >= at:
                self._receive(b"")
        return super().take(idle_timeout)

    # --- the wire: requests ----------------------------------------------------------------
    def _free_slots(self) -> int:
        return self.core.free_streams()

    def _await_turn(self, waiter: SlotWaiter, deadline: float | None) -> None:
        # the credit comes in a datagram somebody must read: this thread may be the one
        self.core.ask_credit()
        self._flush()
        self._wait_locked(None, lambda: waiter.turn, waiter.cond, deadline, deadline, False)

    def _send_head(self, headers: list[tuple[str, str]], end: bool) -> int:
        try:
            return self.core.send_head(headers, end)
        except Closing:
            self._retire()  # the request goes on another connection
            raise Unusable from None

    def _send_bytes(self, stream: SyncH2Stream, body: bytes) -> None:
        # QUIC queues it all; its flow control paces the wire
        self.core.send_data(stream.id, body, True)
        self._sent_end(stream)

    def _end_stream(self, stream: SyncH2Stream) -> None:
        self.core.send_data(stream.id, b"", True)

    def _send_chunk(self, stream: SyncH2Stream, view: memoryview) -> bool:
        """Queue one piece of a streamed body once less than SEND_HIGH_WATER of it is in
        flight; False once the stream is gone (or the server wants no more)."""
        core, sid = self.core, stream.id
        with self.lock:
            self._blocked.add(stream)
        try:
            while True:
                with self.lock:
                    if (stream.error is not None or stream.h2_closed or stream.sent_end
                            or self.closed):
                        return False
                    if core.buffered(sid) < SEND_HIGH_WATER:
                        if not core.send_data(sid, view, False):
                            return False  # closing: the stream fails with the connection
                        self._flush()
                        return True
                self.wait(stream, lambda: core.buffered(sid) < SEND_HIGH_WATER
                          or stream.h2_closed or stream.sent_end, use_read_timeout=False)
        finally:
            with self.lock:
                self._blocked.discard(stream)

    def _reset(self, s: SyncH2Stream, code: int) -> None:
        self._closed_by_h2(s)
        if not self.closed:
            self.core.reset(s.id, h3_code(code))

    def ack(self, stream: SyncH2Stream) -> None:
        """Nothing to do: qh3 grants QUIC stream credit itself."""

    # --- the wire: datagrams and time -------------------------------------------------------
    def _read(
        self, timeout: float | None
    ) -> tuple[bytes | memoryview | None, BaseException | None]:
        """Wait for datagrams or the QUIC timer (lock not held); the datagrams go to
        `_inbox`, and b"" says there is something for `_receive`."""
        at = self._timer_at
        if at is not None:
            due = max(at - time.monotonic(), 0.0)
            timeout = due if timeout is None else min(timeout, due)
        got = self._inbox
        try:
            readable = self._readable(timeout)
        except OSError as exc:
            return None, exc
        if readable:
            err = read_batch(self.udp, got)
            if err is not None and fatal(err, self._settings_seen):
                return None, err
        if got or (at is not None and time.monotonic() >= at):
            return b"", None
        return None, None

    def _receive(self, data: bytes | memoryview) -> None:
        """Feed the core what `_read` took, run its timer when due, act on the events and
        send what it wants sent (lock held)."""
        core, addr = self.core, self.addr
        now = time.monotonic()
        got, self._inbox = self._inbox, []
        events: list[Event] = core.receive(got, addr, now) if got else []
        at = self._timer_at
        if at is not None and now >= at:
            self._timer_at = None
            events += core.handle_timer(now)
        if events:
            self._dispatch(events)
        self._flush()
        # acknowledgements drained send buffers and stream credit may have come: uploads and
        # threads waiting for a stream look again
        for s in self._blocked:
            s.notify()
        self._cond.notify_all()
        if self.slots:
            self._grant_slots()

    def _dispatch(self, events: list[Event]) -> None:
        streams = self.streams
        touched: set[SyncH2Stream] = set()
        for ev in events:
            if isinstance(ev, h3.Data):
                s = streams.get(ev.stream_id)
                if s is not None:
                    touched.add(s)
                    if ev.data:
                        s._body.append(ev.data)
                        s.body_size += len(ev.data)
                    if ev.ended:
                        self._on_end(s)
            elif isinstance(ev, h3.Head):
                s = streams.get(ev.stream_id)
                if s is not None:
                    touched.add(s)
                    self._on_head(s, ev.headers)
                    if ev.ended and s.error is None:
                        self._on_end(s)
            elif isinstance(ev, h3.Trailers):
                s = streams.get(ev.stream_id)
                if s is not None:
                    touched.add(s)
                    try:
                        s.trailers = response_fields(ev.headers, False)[1]
                    except Malformed as exc:
                        self._fail_protocol(s, str(exc))
                    self._on_end(s)
            elif isinstance(ev, h3.Reset):
                s = streams.get(ev.stream_id)
                if s is not None:
                    touched.add(s)
                    self._on_reset(s, nearest(ev.code))
            elif isinstance(ev, h3.Malformed):
                s = streams.get(ev.stream_id)
                if s is not None:
                    touched.add(s)
                    self._fail_protocol(s, ev.reason)
            elif isinstance(ev, h3.StopSending):
                s = streams.get(ev.stream_id)
                if s is not None and not s.sent_end:
                    # the server wants no more of the body; its response may still come
                    touched.add(s)
                    self._sent_end(s)
            elif isinstance(ev, h3.GoAway):
                # HTTP/3 names the first stream not processed, HTTP/2 the last one processed
                self._on_goaway(0, ev.stream_id - 4)
                if self.closed:
                    return  # closing woke every waiter
                self._wake_all()
            elif isinstance(ev, h3.Ready):
                self._settings_seen = True
            else:
                cause, unanswered_may_resend = closed_cause(ev, not self._settings_seen)
                if unanswered_may_resend:
                    for s in streams.values():
                        if not s.got_bytes:
                            s.resend = STALE
                self._fail(cause)
                return
        for s in touched:
            s.notify()

    def _flush(self) -> None:
        """Send the datagrams the core wants sent (lock held: a UDP send does not block for
        long); note its timer for the reader."""
        if self.closed:
            return
        core = self.core
        exc = send_all(self.udp, core.datagrams_to_send(time.monotonic()))
        if exc is not None and fatal(exc, self._settings_seen):
            self._fail(exc)
            return
        self._timer_at = core.timer()

    def _goodbye(self) -> None:
        """CONNECTION_CLOSE (H3_NO_ERROR), best effort."""
        core = self.core
        if core.closed:
            return
        core.close(H3_NO_ERROR)
        send_all(self.udp, core.datagrams_to_send(time.monotonic()))  # (an error: too late)


def open_h3_sync(
    key: Hashable,
    infos: list[AddrInfo],
    new_core: Callable[[], QuicCore],
    deadline: float | None,
) -> SyncH3Connection:
    """A new HTTP/3 connection, ready for requests (the QUIC handshake is done by
    `deadline`): the addresses in turn while one refuses (ICMP unreachable)."""
    for i, (family, _type, _proto, _name, sockaddr) in enumerate(infos):
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)  # the reader waits in select()
            sock.connect(sockaddr)
            conn = SyncH3Connection(sock, key, new_core(), sockaddr)
        except BaseException:
            sock.close()
            raise
        try:
            conn.start(deadline)
            return conn
        except ConnectionRefusedError:
            conn.close()
            if i == len(infos) - 1:
                raise
        except BaseException:
            conn.close()
            raise
    raise ConnectionError("no address to connect to")


__all__ = ["SyncH3Connection", "open_h3_sync"]
