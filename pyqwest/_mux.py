"""MuxConnection: the bookkeeping every connection that multiplexes requests as streams shares
(HTTP/2 over TCP, HTTP/3 over QUIC): stream slots and who waits for one, pool membership, the
idle timer, readiness, write back-pressure, and failing every stream when the connection breaks.
The protocol subclasses add the wire: `open_stream` and `close`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Protocol

from ._slots import SlotQueue

if TYPE_CHECKING:
    from cpqwest._pool import RouteStats

    from ._h2.pool import H2Pool


class MuxStream(Protocol):
    """What the connection needs of its streams."""

    id: int
    recv_end: bool
    message_done: bool
    got_bytes: bool
    resend: int  # why it may be sent again once it failed (_h2.errors.may_resend)
    _h2_closed: bool

    def _fail(self, exc: BaseException) -> None: ...


class MuxConnection:
    """A connection carrying concurrent streams, one pool entry per origin."""

    def __init__(self, loop: asyncio.AbstractEventLoop, key: Any) -> None:
        self.loop = loop
        self.key = key
        self.streams: dict[int, MuxStream] = {}
        self.nopen = 0  # our streams the protocol counts as open
        self.max_streams = 100  # the peer's concurrency limit once known
        self.usable = True  # takes new streams (not closed, no GOAWAY)
        self.closed = False
        self.served = 0  # streams completed: a later failure may be a stale connection
        self.write_paused = False
        self.pool: H2Pool | None = None
        self.idle_since = 0.0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._ready: asyncio.Future[None] | None = loop.create_future()
        self.slots: SlotQueue[asyncio.Future[None]] = SlotQueue(_wake)  # who waits for one
        self._write_waiters: list[asyncio.Future[None]] = []
        self._goaway_last = -1  # last stream id a graceful GOAWAY lets finish (-1: none)
        # for the choice of a resend's connection (_h2.resend.ResendTarget): when its connect
        # began (the pool sets it), streams opened, when it stopped taking streams, and how
        # many streams the server said it processed (a GOAWAY's last-stream-id)
        self.serial = 0
        self.opened = 0
        self.retired_at = 0
        self.processed: int | None = None
        self.budget = 1 << 62  # streams it may open (_h2.resend.Rotation: the pool sets it)
        self._flush_pending = False
        # (dns, connect, tls) seconds, until the first stream takes them (response.timings)
        self.setup: tuple[float | None, float | None, float | None] | None = None
        self.stats: RouteStats | None = None  # its route's counters (pool statistics)

    def open_stream(
        self,
        headers: list[tuple[str, str]],
        body: Any,
        buffered: bool,
        timeout: float | None,
        read_timeout: float | None,
    ) -> Any:
        """Start a request (the caller checked `available`); returns its stream."""
        raise NotImplementedError

    def _start(
        self, stream: Any, body: Any, timeout: float | None, read_timeout: float | None
    ) -> None:
        """The rest of `open_stream` once the protocol sent the head: count the stream, send
        its body (bytes at once, an iterator from a task), start its timers."""
        self.streams[stream.id] = stream
        self.nopen += 1
        self.opened += 1
        if self.opened >= self.budget:
            self._retire()  # the server would refuse the next one: it goes to a new connection
        if body is None:
            stream.sent_end = True
            stream.stamps.stamp_sent()
        elif isinstance(body, bytes):
            stream._send_body(body)
        else:
            stream.upload_task = self.loop.create_task(stream.upload(body))
        if timeout is not None or read_timeout is not None:
            stream._start_timers(timeout, read_timeout)
        self.flush_soon()

    def close(self) -> None:
        """Close for good (politely on the wire); streams still open fail."""
        raise NotImplementedError

    def flush(self) -> None:
        """Send whatever the protocol state has queued."""
        raise NotImplementedError

    def flush_soon(self) -> None:
        """Flush once at the end of this event-loop iteration: requests started together share
        one write."""
        if not self._flush_pending:
            self._flush_pending = True
            try:
                self.loop.call_soon(self.flush)
            except RuntimeError:  # the loop is closed
                self._flush_pending = False

    def _begin_close(self) -> bool:
        """The first half of every `close`: leave the pool, fail the streams still open. True
        when this call is the one that closes (the protocol then says goodbye on the wire)."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        self._retire()
        if self.closed:
            return False
        self.closed = True
        self._count_close(False)
        if self.streams:
            for s in list(self.streams.values()):
                s._h2_closed = True
                s._fail(ConnectionResetError("connection closed"))
            self.streams.clear()
        return True

    # --- back-pressure of the transport ------------------------------------------------------
    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self._wake_writers()

    def writable(self) -> asyncio.Future[None]:
        """A future resolved once the transport takes writes again."""
        w = self.loop.create_future()
        self._write_waiters.append(w)
        return w

    def _wake_writers(self) -> None:
        waiters, self._write_waiters = self._write_waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    # --- streams ----------------------------------------------------------------------------
    def ready(self) -> asyncio.Future[None] | None:
        """None once the connection is ready for requests (HTTP/2: the server's SETTINGS
        arrived; HTTP/3: the QUIC handshake is done), else a future resolved then."""
        return self._ready

    @property
    def available(self) -> bool:
        """Whether a request may open a stream now (none waits for a slot before it)."""
        return self.usable and self.slots.may_open(self.free_slots())

    def free_slots(self) -> int:
        """Streams the peer lets us open now."""
        return self.max_streams - self.nopen

    def has_turn_slot(self) -> bool:
        """`available` for a waiter whose turn came (`slots.took_turn` done)."""
        return self.usable and self.slots.may_open(self.free_slots(), True)

    def wait_capacity(self, first: bool = False) -> asyncio.Future[None]:
        """A future resolved when a slot is this waiter's (or the connection takes no more
        streams); the waiter then calls `slots.took_turn()`."""
        w = self.loop.create_future()
        self.slots.join(w, first)
        return w

    def grant_slots(self) -> None:
        """Slots may have freed: the oldest waiters get them."""
        self.slots.grant(self.free_slots())

    def _stream_closed(self, stream: MuxStream) -> None:
        self.nopen -= 1
        # recv_end: the protocol closes the stream (on its end) before the response is marked
        # done
        if self.streams.pop(stream.id, None) is not None and (
            stream.recv_end or stream.message_done
        ):
            self.served += 1
        if self.slots:
            self.grant_slots()
        if not self.streams:
            if self._goaway_last >= 0 or not self.usable:
                # draining after a GOAWAY (or its pool closed): done now
                self.close()
            else:
                self._went_idle()

    def _count_close(self, error: bool) -> None:
        """The connection ends: counted once on its route's statistics."""
        stats, self.stats = self.stats, None
        if stats is not None:
            stats.closed += 1
            if error:
                stats.closed_error += 1

    def _unusable(self) -> None:
        """No new streams; closed once the last open one ends (at once when none is)."""
        self._retire()
        if not self.streams:
            self.close()

    def _retire(self) -> None:
        """No new streams: out of the pool."""
        if self.usable:
            from ._h2.resend import next_serial  # here: _h2 imports this module

            self.usable = False
            self.retired_at = next_serial()
            pool = self.pool
            if pool is not None:
                pool.forget(self)
        # waiters for a slot look for another connection
        self.slots.wake_all()

    def _fail(self, cause: BaseException) -> None:
        """The connection is broken: every stream on it fails, it leaves the pool."""
        from ._h2.errors import NOT_RESENDABLE, STALE  # here: _h2 imports this module

        # a failure with requests in flight, or while connecting; not a peer closing an idle one
        self._count_close(bool(self.streams) or self._ready is not None)
        self._retire()
        w = self._ready
        if w is not None and not w.done():
            # kept: whoever asks `ready()` later (the connector) gets the failure too
            w.set_exception(cause)
            w.exception()  # retrieved: nobody may be waiting
        # a connection that served before and fails now may have been stale: its requests that
        # got nothing may go again (a peer gone silent is no stale connection)
        stale = self.served > 0 and not isinstance(cause, TimeoutError)
        for s in list(self.streams.values()):
            if stale and not s.got_bytes and s.resend == NOT_RESENDABLE:
                s.resend = STALE
            s._h2_closed = True
            s._fail(cause)
        self.streams.clear()
        self.nopen = 0
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
            if self.stats is not None:
                self.stats.closed_idle += 1
            self.close()
        else:
            self._idle_timer = self.loop.call_at(due, self._on_idle_timer)


def _wake(w: asyncio.Future[None]) -> bool:
    """A slot waiter's turn came; False when it gave up meanwhile (cancelled, timed out)."""
    if w.done():
        return False
    w.set_result(None)
    return True
