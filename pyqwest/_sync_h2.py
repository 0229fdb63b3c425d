"""HTTP/2 over a blocking socket for SyncHTTPTransport: one multiplexed connection per origin
shared by threads, on the same h2 state setup, header checks and error words as the async
driver (pyqwest._h2.library / headers / errors).

Threads (httpcore's model): one lock guards the h2 state; a thread that waits for something
(its response head, body data, flow-control window, the server's SETTINGS) and finds nobody
reading the socket becomes the reader for everyone: it reads outside the lock, feeds h2 under
it, dispatches the events to their streams and wakes the others, then looks again at what it
waits for. Bytes h2 wants sent are taken under the state lock and written under a separate
write lock taken before the state lock is let go, so they reach the wire in order. The reader
waits in select() on the socket and a wake-up socket, so a stream closed by another thread
(or the transport closing) wakes it at once.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import select
import socket
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from typing import Any

import h2.exceptions

from cpqwest._errors import ReadError, RemoteProtocolError, WriteError
from cpqwest._pool import RouteStats

from ._h2 import library
from ._h2.core import (
    CONN_ACK_BATCH,
    CONN_WINDOW,
    MAX_FRAME_SIZE,
    READ_SIZE,
    SETTINGS,
    STREAM_ACK_BATCH,
    StreamState,
    next_stamps,
)
from ._h2.errors import (
    CANCEL,
    INTERNAL_ERROR,
    NOT_RESENDABLE,
    PROTOCOL_ERROR,
    STALE,
    UNPROCESSED,
    mapped,
    reason,
)
from ._h2.library import (
    ConnectionTerminated,
    DataReceived,
    RemoteSettingsChanged,
    ResponseReceived,
    StreamEnded,
    StreamReset,
    TrailersReceived,
    WindowUpdated,
)
from ._h2.resend import UNBOUNDED, Rotation, next_serial, processed_limit
from ._slots import SlotQueue
from ._sync_h1 import close_body
from ._sync_tls import TLSSocket
from ._timings import Setup
from ._version import HTTPVersion


class SyncH2Stream(StreamState):
    """One request/response exchange; for the response's consumer it is a SyncBodySource."""

    __slots__ = ("_cond", "conn", "deadline", "h2_closed", "read_timeout")

    def __init__(
        self, conn: SyncH2Connection, stream_id: int, deadline: float | None,
        read_timeout: float | None,
    ) -> None:
        StreamState.__init__(self, stream_id, next_stamps(conn))
        self.conn = conn
        self._cond: threading.Condition | None = None  # made when a thread first sleeps on it
        self.deadline = deadline
        self.read_timeout = read_timeout
        self.h2_closed = False

    @property
    def parser(self) -> SyncH2Stream:
        return self

    @property
    def cond(self) -> threading.Condition:
        """Where its waiters sleep while another thread reads: a read wakes only the streams
        it brought something for. Made on first use (most waits read the socket themselves)."""
        cond = self._cond
        if cond is None:
            cond = self._cond = threading.Condition(self.conn.lock)
        return cond

    def notify(self) -> None:
        """Wake the threads sleeping on it (lock held)."""
        if self._cond is not None:
            self._cond.notify_all()

    def read_chunk(self) -> bytes | None:
        """The next body piece, None at the end; raises the spec's read errors."""
        conn = self.conn
        try:
            conn.wait(self, lambda: self.body_size > 0 or self.message_done)
        except BaseException as exc:
            conn.cancel(self, None)
            raise mapped(exc, "Error reading content: ", ReadError) from None
        with conn.lock:
            if self.body_size:
                return self._take_locked()
        if self.error is not None:
            raise mapped(self.error, "Error reading content: ", ReadError)
        return None

    def read_all(self) -> bytes:
        """The whole body (a buffered response): one wait per window credit it needs, not one
        per DATA frame, and the pieces taken under the lock that saw them arrive."""
        conn = self.conn
        pieces: list[bytes] = []
        while True:
            try:
                with conn.lock:
                    conn._wait_locked(self, self._all_or_credit, None, *_until(self))
                    if self.body_size:
                        pieces.append(self._take_locked())
                    if self.message_done:
                        break
            except BaseException as exc:
                conn.cancel(self, None)
                raise mapped(exc, "Error reading content: ", ReadError) from None
        if self.error is not None:
            raise mapped(self.error, "Error reading content: ", ReadError)
        return b"".join(pieces)

    def _take_locked(self) -> bytes:
        """The body received so far (lock held, `body_size` checked), crediting the stream's
        window back once a batch of it was consumed."""
        chunk = self.take_body()
        if self._unacked >= STREAM_ACK_BATCH and not self.recv_end:
            self.conn.ack(self)
        return chunk

    def _all_or_credit(self) -> bool:
        return self.message_done or self._unacked >= STREAM_ACK_BATCH

    def release(self) -> None:
        """The consumer is done: a stream still open is cancelled."""
        if not self.h2_closed:  # ended under the lock this thread last held: nothing to do
            self.conn.cancel(self, None)

    def abort(self, exc: BaseException | None = None) -> None:
        """Give up on this exchange from any thread: RST_STREAM(CANCEL); a thread waiting on
        it wakes with `exc`. The connection stays up for the other streams."""
        self.conn.cancel(self, exc)


class SyncH2Connection:
    """One HTTP/2 connection shared by threads."""

    version = HTTPVersion.HTTP2

    def __init__(self, sock: socket.socket | TLSSocket, key: Hashable) -> None:
        self.sock = sock
        self.key = key
        self.h2 = library.new_state(SETTINGS, MAX_FRAME_SIZE)
        self.lock = threading.Lock()
        self._cond = threading.Condition(self.lock)  # SETTINGS, the QUIC handshake
        self._waiting: list[threading.Condition] = []  # of the threads waiting in wait()
        self._writing = False  # a thread is in `_flush`'s send (it sends what others queue)
        self._reading = False
        self._io = 0  # threads in a socket call (the reader, a writer)
        self._fds_released = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        # the reader's wait: one poll object for the connection's life (select where no poll)
        self._poller: Any = None
        if hasattr(select, "poll"):
            self._poller = select.poll()
            self._poller.register(sock.fileno(), select.POLLIN)
            self._poller.register(self._wake_r.fileno(), select.POLLIN)
        self._view = memoryview(bytearray(READ_SIZE))
        self.streams: dict[int, SyncH2Stream] = {}
        self.nopen = 0
        self.max_streams = 100
        self.usable = True
        # (dns, connect, tls) seconds until the first stream takes them
        self.setup: Setup | None = None
        self.stats: RouteStats | None = None  # its route's counters (pool statistics)
        self.slots: SlotQueue[SlotWaiter] = SlotQueue(SlotWaiter.wake)  # who waits for one
        self.closed = False
        self.served = 0
        self.error: BaseException | None = None
        self.idle_since = time.monotonic()
        self._settings_seen = False
        self._goaway_last = -1
        # for the choice of a resend's connection (resend.ResendTarget): when its connect
        # began (the transport sets it), streams opened, when it stopped taking streams, and
        # how many streams the server said it processed
        self.serial = 0
        self.opened = 0
        self.retired_at = 0
        self.processed: int | None = None
        self.budget = UNBOUNDED  # streams it may open (resend.Rotation: the transport sets it)
        self.rotation: Rotation | None = None

    # --- setup -----------------------------------------------------------------------------
    def start(self, deadline: float | None) -> None:
        """Send the preface and wait for the server's SETTINGS."""
        with self.lock:
            self.h2.increment_flow_control_window(CONN_WINDOW - 65535)
            self._flush()
        self.wait(None, lambda: self._settings_seen, deadline)

    # --- streams ---------------------------------------------------------------------------
    def open_stream(
        self,
        headers: list[tuple[str, str]],
        body: bytes | Iterator[bytes] | None,
        deadline: float | None,
        read_timeout: float | None,
    ) -> SyncH2Stream:
        """Send a request and wait for its response head; raises the spec's errors (a
        stream the server refused or never processed raises Unusable)."""
        with self.lock:  # (the lock of every Condition here, taken without their Python calls)
            self._wait_slot(deadline)
            if not self.usable:
                raise Unusable
            sid = self._send_head(headers, body is None)
            stream = SyncH2Stream(self, sid, deadline, read_timeout)
            self.streams[sid] = stream
            self.nopen += 1
            self.opened += 1
            if self.opened >= self.budget:
                self._retire()  # the server would refuse the next one: a new connection
            rest: Iterator[Any] | None = None
            if body is None:
                stream.sent_end = True
                stream.stamps.stamp_sent()
            elif isinstance(body, bytes):
                rest = self._send_bytes(stream, body)
            else:
                rest = body
            self._flush()
        if rest is not None:
            ctx = contextvars.copy_context()
            threading.Thread(
                target=ctx.run, args=(self._upload, stream, rest), daemon=True,
                name="pyqwest-h2-upload",
            ).start()
        try:
            self.wait(stream, lambda: stream.head_done or stream.message_done)
        except BaseException as exc:
            self.cancel(stream, None)
            err = mapped(exc, "Request failed: ", ReadError if stream.sent_end else WriteError)
            if stream.resend != NOT_RESENDABLE:
                raise Unusable(err, stream.resend) from None
            raise err from None
        return stream

    @property
    def waiting(self) -> int:
        """Requests waiting for a stream slot now (pool statistics)."""
        return len(self.slots)

    def _free_slots(self) -> int:
        """Streams the peer lets us open now (lock held)."""
        return self.max_streams - self.nopen

    def _grant_slots(self) -> None:
        """Slots may have freed (lock held): the oldest waiters get them."""
        self.slots.grant(self._free_slots())

    def _wait_slot(self, deadline: float | None) -> None:
        """Wait (lock held) for this request's turn at a stream slot (in the order asked,
        `SlotQueue`), or until the connection takes no more streams."""
        slots = self.slots
        turn = False
        while self.usable and not slots.may_open(self._free_slots(), turn):
            waiter = SlotWaiter(self.lock)
            slots.join(waiter, turn)
            try:
                self._await_turn(waiter, deadline)
            except BaseException:
                if waiter.turn:
                    slots.took_turn()
                    self._grant_slots()  # the slot goes to the next waiter
                else:
                    slots.leave(waiter)
                raise
            slots.took_turn()
            turn = True

    def _await_turn(self, waiter: SlotWaiter, deadline: float | None) -> None:
        """Block (lock held) until `waiter`'s turn comes; TimeoutError at `deadline`."""
        while not waiter.turn:
            left = _left(deadline)
            if left is not None and left <= 0:
                raise TimeoutError("Request failed: timed out waiting for an HTTP/2 stream")
            waiter.cond.wait(left)

    def _send_head(self, headers: list[tuple[str, str]], end: bool) -> int:
        """Start a stream with the request head (lock held); its id. Unusable if the
        connection refuses it."""
        try:
            sid: int = self.h2.get_next_available_stream_id()
            self.h2.send_headers(sid, headers, end_stream=end)
        except h2.exceptions.H2Error as exc:
            self._fail(RemoteProtocolError(f"connection error detected: {exc}"))
            raise Unusable from exc
        return sid

    def _end_stream(self, stream: SyncH2Stream) -> None:
        """The end of a streamed request body (lock held)."""
        self.h2.end_stream(stream.id)

    def take(self, idle_timeout: float | None) -> bool:
        """Whether a new request may use this connection; one idle too long is closed."""
        with self.lock:
            if not self.usable or self.closed:
                return False
            if (idle_timeout is not None and not self.streams
                    and time.monotonic() - self.idle_since >= idle_timeout):
                if self.stats is not None:
                    self.stats.closed_idle += 1
                self._close_socket()
                return False
            return True

    def _send_bytes(self, stream: SyncH2Stream, body: bytes) -> Iterator[Any] | None:
        """Queue as much of a bytes body as the windows allow (lock held); the rest."""
        h = self.h2
        view = memoryview(body)
        pos, n = 0, len(body)
        window = h.local_flow_control_window(stream.id)
        while pos < n and window > 0:
            size = min(n - pos, window, h.max_outbound_frame_size)
            h.send_data(stream.id, view[pos:pos + size], end_stream=pos + size == n)
            pos += size
            window -= size
        if pos == n:
            self._sent_end(stream)
            return None
        return iter((view[pos:],))

    def _upload(self, stream: SyncH2Stream, body: Iterator[Any]) -> None:
        """Pump a streamed body with flow control (worker thread); always closes it."""
        try:
            for chunk in body:
                if not isinstance(chunk, (bytes, bytearray, memoryview)):
                    raise TypeError(
                        f"Request body chunk must be bytes, got {type(chunk).__name__}")
                if chunk and not self._send_chunk(stream, memoryview(chunk)):
                    return
            with self.lock:
                if not stream.h2_closed and not stream.sent_end and not self.closed:
                    self._end_stream(stream)
                    self._sent_end(stream)
                    self._flush()
        except BaseException as exc:
            err = exc if isinstance(exc, WriteError) else WriteError(
                f"Request failed: stream error sent by user: {reason(INTERNAL_ERROR)}: {exc}")
            if err is not exc:
                err.__cause__ = exc
            with self.lock:
                if stream.error is None:
                    self._reset(stream, INTERNAL_ERROR)
                    self._fail_stream(stream, err)
                    self._flush()
                    self._wake_all()  # the thread waiting for the response sees it now
        finally:
            close_body(body)

    def _send_chunk(self, stream: SyncH2Stream, view: memoryview) -> bool:
        """Send one body piece as the windows allow; False once the stream is gone."""
        h = self.h2
        pos, n = 0, len(view)
        while pos < n:
            with self.lock:
                if stream.error is not None or stream.h2_closed or self.closed:
                    return False
                window = h.local_flow_control_window(stream.id)
                if window > 0:
                    size = min(n - pos, window, h.max_outbound_frame_size)
                    h.send_data(stream.id, view[pos:pos + size])
                    pos += size
                    self._flush()
                    continue
            self.wait(stream, lambda: h.local_flow_control_window(stream.id) > 0
                      or stream.h2_closed, use_read_timeout=False)
        return True

    def cancel(self, stream: SyncH2Stream, exc: BaseException | None) -> None:
        """Reset a stream still open (from any thread); waiters on it wake."""
        with self._cond:
            changed = exc is not None and stream.error is None
            if changed:
                stream.error = exc
            if not stream.h2_closed:
                changed = True
                self._reset(stream, CANCEL)
                self._flush()
            if changed:
                self._wake_all()  # its waiters, and a reader blocked on its behalf

    def ack(self, stream: SyncH2Stream) -> None:
        """Window update for what the consumer took (lock held)."""
        n, stream._unacked = stream._unacked, 0
        with contextlib.suppress(h2.exceptions.H2Error):
            self.h2.increment_flow_control_window(n, stream.id)
        self._flush()

    # --- waiting and reading ---------------------------------------------------------------
    def wait(
        self,
        stream: SyncH2Stream | None,
        done: Callable[[], bool],
        deadline: float | None = None,
        *,
        use_read_timeout: bool = True,
    ) -> None:
        """Block until done() (checked under the lock), reading the socket for everyone when
        nobody else does. Raises the stream's or the connection's failure, or TimeoutError."""
        if stream is None:
            with self.lock:
                self._wait_locked(None, done, self._cond, deadline, deadline, False)
            return
        until, deadline, per_read = _until(stream, use_read_timeout)
        with self.lock:
            self._wait_locked(stream, done, None, until, deadline, per_read)

    def _wait_locked(
        self,
        stream: SyncH2Stream | None,
        done: Callable[[], bool],
        cond: threading.Condition | None,
        until: float | None,
        deadline: float | None,
        per_read: bool,
    ) -> None:
        """`wait` with the lock held; while another thread reads, it sleeps on `cond` (None:
        the stream's own)."""
        try:
            while True:
                if done():
                    return
                err = stream.error if stream is not None else self.error
                if err is not None:
                    raise err
                if self.error is not None:
                    raise self.error
                left = _left(until)
                if left is not None and left <= 0:
                    raise TimeoutError(
                        "read timed out" if per_read and until != deadline else "request timed out")
                if self._reading:
                    if cond is None:
                        cond = stream.cond if stream is not None else self._cond
                    self._waiting.append(cond)
                    try:
                        cond.wait(left)
                    finally:
                        self._waiting.remove(cond)
                    continue
                self._reading = True
                self._io += 1
                self.lock.release()
                try:
                    data, cause = self._read(left)
                finally:
                    self.lock.acquire()
                    self._reading = False
                    self._io_done()
                if self.closed:
                    continue  # closed meanwhile: the checks above raise
                if cause is not None:
                    self._fail(cause)
                elif data is not None:
                    self._receive(data)
        finally:
            if not self._reading and self._waiting:
                # nobody reads now: hand the socket to one waiter
                self._waiting[0].notify_all()

    def _read(
        self, timeout: float | None
    ) -> tuple[bytes | memoryview | None, BaseException | None]:
        """One read of the socket (lock not held): (data or None if nothing yet, failure)."""
        sock = self.sock
        try:
            n = sock.read_buffered(self._view) if isinstance(sock, TLSSocket) else None
            if n is None:
                if not self._readable(timeout):
                    return None, None
                n = sock.recv_into(self._view)
        except OSError as exc:
            return None, exc
        if not n:
            if not self._settings_seen:
                # still connecting (a TLS 1.3 server rejecting our certificate looks like this)
                return None, ConnectionError(
                    "connection closed before the server's HTTP/2 SETTINGS")
            return None, RemoteProtocolError("connection closed by the server")
        return self._view[:n], None  # (h2 copies it into its frame reader at once)

    def _receive(self, data: bytes | memoryview) -> None:
        """Feed h2 and dispatch its events (lock held)."""
        h = self.h2
        try:
            events: list[Any] = h.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self._flush()
            self._fail(RemoteProtocolError(f"connection error detected: {exc}"))
            return
        streams = self.streams
        touched: set[SyncH2Stream] = set()
        wake_all = False
        for ev in events:
            cls = ev.__class__
            s = streams.get(getattr(ev, "stream_id", 0))
            if s is not None:
                touched.add(s)
            if cls is DataReceived:
                h.unacked += ev.flow_controlled_length
                if s is not None:
                    if ev.data:
                        s._body.append(ev.data)
                        s.body_size += len(ev.data)
                    s._unacked += ev.flow_controlled_length
            elif cls is ResponseReceived:
                if s is not None:
                    self._on_head(s, ev.headers)
            elif cls is TrailersReceived:
                if s is not None:
                    wrong = s.take_trailers(ev.headers)
                    if wrong is not None:
                        self._fail_protocol(s, wrong)
            elif cls is StreamEnded:
                if s is not None:
                    self._on_end(s)
            elif cls is StreamReset:
                if s is not None and ev.remote_reset:
                    self._on_reset(s, ev.error_code)
            elif cls is RemoteSettingsChanged:
                limit = self.h2.remote_settings.max_concurrent_streams
                self.max_streams = limit if limit is not None else 1 << 31
                self._settings_seen = True
                wake_all = True  # the initial window may have changed too
            elif cls is ConnectionTerminated:
                self._on_goaway(ev.error_code, ev.last_stream_id)
                if self.closed:
                    return  # closing woke every waiter
                wake_all = True  # the streams it failed
            elif cls is WindowUpdated and not ev.stream_id:
                wake_all = True  # every sender may go on
        # h.unacked also holds the credit of frames H2State dropped on streams we reset
        if h.unacked >= CONN_ACK_BATCH:
            h.ack_connection()
        self._flush()
        if wake_all:
            self._wake_all()
        else:
            for s in touched:
                s.notify()

    def _on_head(self, s: SyncH2Stream, raw: list[tuple[bytes, bytes]]) -> None:
        wrong = s.take_head(raw)
        if wrong is not None:
            self._fail_protocol(s, wrong)

    def _on_end(self, s: SyncH2Stream) -> None:
        s.recv_end = True
        s.message_done = True
        s.stamps.stamp_done()
        if s.sent_end:
            self._closed_by_h2(s)

    def _on_reset(self, s: SyncH2Stream, code: int) -> None:
        self._closed_by_h2(s)
        err = s.reset_error(code)
        if err is None:
            s.message_done = True  # the server has all it wants: a normal end of the body
            s.stamps.stamp_done()
            return
        self._fail_stream(s, err)

    def _on_goaway(self, error_code: int, last_stream_id: int) -> None:
        self.processed = processed_limit(last_stream_id)
        if self.rotation is not None:
            self.rotation.ended(self.key, self.processed, self.opened)
        self._retire()
        for s in list(self.streams.values()):
            if s.id > last_stream_id:
                err = s.unprocessed(error_code)
                self._closed_by_h2(s)
                self._fail_stream(s, err)
        if error_code != 0:
            self._fail(RemoteProtocolError(f"connection error received: {reason(error_code)}"))
            return
        self._goaway_last = last_stream_id
        if not self.streams:
            self._close_socket()

    def _fail_protocol(self, s: SyncH2Stream, what: str) -> None:
        self._fail_stream(s, RemoteProtocolError(what))
        if not s.h2_closed:
            self._reset(s, PROTOCOL_ERROR)

    def _fail_stream(self, s: SyncH2Stream, exc: BaseException) -> None:
        if s.error is None:
            s.error = exc

    def _fail(self, cause: BaseException) -> None:
        """The connection is broken (lock held): every stream on it fails."""
        self._retire()
        if self.streams and not self.closed and self.stats is not None:
            self.stats.closed_error += 1  # a failure with requests in flight
        if self.error is None:
            self.error = cause
        # a peer gone silent is no stale connection (MuxConnection's rule)
        stale = self.served > 0 and not isinstance(cause, TimeoutError)
        for s in list(self.streams.values()):
            if stale and not s.got_bytes:
                s.resend = STALE
            s.h2_closed = True
            self._fail_stream(s, cause)
        self.streams.clear()
        self.nopen = 0
        self._close_socket()

    def retire(self) -> None:
        """No new streams (any thread); closed once the last open one ends."""
        with self._cond:
            self._retire()
            if not self.streams:
                self._close_socket()

    def _retire(self) -> None:
        if self.usable:
            self.usable = False
            self.retired_at = next_serial()
        self.slots.wake_all()  # threads waiting for a stream slot look elsewhere

    # --- state -----------------------------------------------------------------------------
    def _sent_end(self, s: SyncH2Stream) -> None:
        s.sent_end = True
        s.stamps.stamp_sent()
        if s.recv_end:
            self._closed_by_h2(s)

    def _reset(self, s: SyncH2Stream, code: int) -> None:
        self._closed_by_h2(s)
        if not self.closed:
            with contextlib.suppress(h2.exceptions.H2Error):
                self.h2.reset_stream(s.id, code)

    def _closed_by_h2(self, s: SyncH2Stream) -> None:
        """h2 counts this stream as closed from now on (lock held)."""
        if s.h2_closed:
            return
        s.h2_closed = True
        self.nopen -= 1
        if self.slots:
            self._grant_slots()
        if self.streams.pop(s.id, None) is not None and (s.recv_end or s.message_done):
            self.served += 1
        if not self.streams:
            self.idle_since = time.monotonic()
            if self._goaway_last >= 0 or not self.usable:
                self._close_socket()

    def _flush(self) -> None:
        """Send what h2 queued (lock held on entry and exit; writes happen in order). One
        thread writes at a time, and it sends what others queued meanwhile before it leaves:
        a thread that finds a write under way returns at once, without blocking on it (threads
        sending together share a write, and the GIL changes hands less)."""
        if self._writing or self.closed:
            return
        data = self.h2.data_to_send()
        if not data:
            return
        self._writing = True
        self._io += 1
        cause: OSError | None = None
        try:
            while data:
                self.lock.release()
                try:
                    self.sock.sendall(data)
                except OSError as exc:
                    cause = exc
                finally:
                    self.lock.acquire()
                if cause is not None or self.closed:
                    break
                data = self.h2.data_to_send()
        finally:
            self._writing = False
            self._io_done()
        if cause is not None:
            self._fail(cause)

    def _wake_all(self) -> None:
        self._cond.notify_all()
        if self.slots:
            self._grant_slots()  # the peer's limit may have risen
        for cond in self._waiting:
            cond.notify_all()
        if self._reading and not self._fds_released:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"\0")

    def _close_socket(self) -> None:
        """Close for good (lock held): a reader blocked in select wakes first."""
        if self.closed:
            return
        self.closed = True
        self._retire()
        if self.stats is not None:
            self.stats.closed += 1
        self._goodbye()
        for s in list(self.streams.values()):
            s.h2_closed = True
            self._fail_stream(s, ConnectionResetError("connection closed"))
        self.streams.clear()
        self._wake_all()
        if self._io:
            # another thread is in a socket call: wake it; the last one out closes
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
        else:
            self._release_fds()

    def _goodbye(self) -> None:
        """A polite GOAWAY, when no other thread is on the socket (lock held)."""
        if not self._io:
            with contextlib.suppress(h2.exceptions.H2Error, OSError):
                self.h2.close_connection()
                data = self.h2.data_to_send()
                if data:
                    self.sock.sendall(data)

    def _io_done(self) -> None:
        """A thread left its socket call (lock held): the last one closes a closed socket."""
        self._io -= 1
        if self.closed and not self._io:
            self._release_fds()

    def _release_fds(self) -> None:
        if not self._fds_released:
            self._fds_released = True
            self.sock.close()
            self._wake_r.close()
            self._wake_w.close()

    def _readable(self, timeout: float | None) -> bool:
        """Wait for the socket (or a wake-up); True if it is readable."""
        poller = self._poller
        if poller is None:
            ready, _, _ = select.select([self.sock, self._wake_r], [], [], timeout)
            woken, readable = self._wake_r in ready, self.sock in ready
        else:
            # (milliseconds, rounded up: a wait never ends before its time)
            events = poller.poll(None if timeout is None else max(math.ceil(timeout * 1e3), 0))
            fds = [fd for fd, _ in events]
            woken, readable = self._wake_r.fileno() in fds, self.sock.fileno() in fds
        if woken:
            with contextlib.suppress(OSError):
                self._wake_r.recv(4096)
        return readable

    def close(self, exc: BaseException | None = None) -> None:
        """Close the connection (any thread); streams still open fail with `exc`."""
        with self._cond:
            if exc is not None:
                for s in list(self.streams.values()):
                    self._fail_stream(s, exc)
            self._close_socket()


class SlotWaiter:
    """A thread waiting for a stream slot: woken (`turn`) when one is its own."""

    __slots__ = ("cond", "turn")

    def __init__(self, lock: threading.Lock) -> None:
        self.cond = threading.Condition(lock)
        self.turn = False

    def wake(self) -> bool:
        """Its turn came (lock held); it waits until then, so it always takes it."""
        self.turn = True
        self.cond.notify()
        return True


class Unusable(Exception):
    """The request may go again on a new connection: the connection stopped taking streams
    before ours was opened (`error` None), or its stream failed for `why` (the async
    driver's reasons, `errors.may_resend`); `error` is what to raise if it is not sent
    again."""

    def __init__(self, error: BaseException | None = None, why: int = UNPROCESSED) -> None:
        super().__init__(error)
        self.error = error
        self.why = why


def _until(
    stream: SyncH2Stream, use_read_timeout: bool = True
) -> tuple[float | None, float | None, bool]:
    """(until, deadline, per_read) of a wait on `stream`: its request's deadline, or sooner
    the end of its read timeout from now (per_read: that one is the nearer)."""
    deadline = stream.deadline
    if not use_read_timeout or stream.read_timeout is None:
        return deadline, deadline, False
    per_read = time.monotonic() + stream.read_timeout
    if deadline is not None and deadline < per_read:
        return deadline, deadline, True
    return per_read, deadline, True


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - time.monotonic()
