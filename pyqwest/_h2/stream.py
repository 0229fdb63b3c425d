"""H2Stream: one request/response exchange on an HTTP/2 connection, and the request body
upload.

Each stream's receive window (`core.STREAM_WINDOW`) is acknowledged as its consumer takes
the data, and not at all while more than `READ_HIGH_WATER` bytes of it sit unread: a slow
consumer stalls only its own stream.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import TYPE_CHECKING, Any

import h2.exceptions

from cpqwest._errors import ReadError, RemoteProtocolError, WriteError
from cpqwest._protocol import WAIT

from .core import STREAM_ACK_BATCH, StreamState, next_stamps
from .errors import CANCEL, INTERNAL_ERROR, PROTOCOL_ERROR, mapped, reason

if TYPE_CHECKING:
    from .connection import H2Connection

# A stream with more unread data than this gets no window updates until its consumer reads.
READ_HIGH_WATER = 1 << 20
# Flush queued body data once this much is waiting, even mid-chunk.
WRITE_BATCH = 1 << 18


class H2Stream(StreamState):
    """One request/response exchange on an `H2Connection`.

    For the response's consumer it looks like an HTTP/1.1 connection positioned after the
    response head: `take_chunk()`, `wait_chunk()`, `release()`, `abort(exc)`, and `parser`
    (itself) with `trailers`, `message_done` and `body_size`.
    """

    __slots__ = (
        "_body_waiter",
        "_buffered",
        "_deadline",
        "_h2_closed",
        "_last_read",
        "_read_timeout",
        "_read_timer",
        "_send_waiter",
        "_waiter",
        "conn",
        "upload_task",
    )

    def __init__(self, conn: H2Connection, stream_id: int, buffered: bool) -> None:
        StreamState.__init__(self, stream_id, next_stamps(conn))
        self.conn = conn
        self._buffered = buffered
        self._h2_closed = False
        self._waiter: asyncio.Future[Any] | None = conn.loop.create_future()
        self._body_waiter: asyncio.Future[None] | None = None
        self._send_waiter: asyncio.Future[None] | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._read_timer: asyncio.TimerHandle | None = None
        self._read_timeout = -1.0
        self._last_read = 0.0
        self.upload_task: asyncio.Task[None] | None = None

    # --- for _WireContent -----------------------------------------------------------------
    @property
    def parser(self) -> H2Stream:
        return self

    def take_chunk(self) -> bytes | object | None:
        """The next body piece, None at the end, WAIT if none is ready; raises the failure."""
        if self.body_size:
            chunk = self.take_body()
            if self._unacked >= STREAM_ACK_BATCH and not self.recv_end:
                self._ack()
                self.conn.flush_soon()
            return chunk
        if self.error is not None:
            raise mapped(self.error, "Error reading content: ", ReadError)
        if self.message_done:
            return None
        return WAIT

    def wait_chunk(self) -> asyncio.Future[None]:
        w = self._body_waiter
        if w is None:
            w = self._body_waiter = self.conn.loop.create_future()
        return w

    def release(self) -> None:
        """The consumer is done with the response: a stream still open is cancelled."""
        self._cancel_timers()
        self._stop_upload()
        if not self._h2_closed:
            self._reset(CANCEL)

    def abort(self, exc: BaseException | None = None) -> None:
        """Give up on this exchange (cancelled, closed unread): RST_STREAM(CANCEL), the
        connection stays up for the others."""
        if exc is not None and self.error is None:
            self.error = exc
        self._cancel_timers()
        self._stop_upload()
        if not self._h2_closed:
            self._reset(CANCEL)
        if exc is not None:
            self._wake(exc)

    # --- events from the connection ---------------------------------------------------------
    def _on_head(self, raw: list[tuple[bytes, bytes]]) -> None:
        wrong = self.take_head(raw)
        if wrong is not None:
            self._fail_protocol(wrong)
            return
        if self._read_timeout >= 0:
            self._last_read = self.conn.loop.time()
        if not self._buffered:
            w = self._waiter
            self._waiter = None
            if w is not None and not w.done():
                w.set_result(None)

    def _on_data(self, data: bytes, flow_len: int) -> None:
        if data:
            self._body.append(data)
            self.body_size += len(data)
        self._unacked += flow_len
        if self._read_timeout >= 0:
            self._last_read = self.conn.loop.time()
        if self._buffered:
            if self._unacked >= STREAM_ACK_BATCH:
                self._ack()
            return
        if self._unacked >= STREAM_ACK_BATCH and self.body_size <= READ_HIGH_WATER:
            self._ack()
        if self._body_waiter is not None:
            self._wake_reader()

    def _on_trailers(self, raw: list[tuple[bytes, bytes]]) -> None:
        wrong = self.take_trailers(raw)
        if wrong is not None:
            self._fail_protocol(wrong)

    def _on_end(self) -> None:
        self.recv_end = True
        if self.sent_end:
            self._closed_by_h2()
        self._complete()

    def _complete(self) -> None:
        """The response is complete (END_STREAM, or a NO_ERROR reset after the head)."""
        self.message_done = True
        self.stamps.stamp_done()
        self._cancel_timers()
        w = self._waiter
        self._waiter = None
        if self._buffered:
            if w is not None and not w.done():
                data = self.take_body() if self._body else b""
                w.set_result((self.status, self.headers, data, self.trailers, self.stamps))
            if not self._h2_closed:
                # the request body is still going: nobody wants the rest of it
                self._stop_upload()
                self._reset(CANCEL)
            return
        if w is not None and not w.done():
            w.set_result(None)
        if self._body_waiter is not None:
            self._wake_reader()

    def _on_reset(self, code: int) -> None:
        """RST_STREAM from the peer."""
        self._closed_by_h2()
        self._stop_upload()
        err = self.reset_error(code)
        if err is None:  # the server has all it wants: a normal end of the body
            if not self.message_done:
                self._complete()
            return
        self._fail(err)

    def _fail_protocol(self, what: str) -> None:
        self._fail(RemoteProtocolError(what))
        if not self._h2_closed:
            self._reset(PROTOCOL_ERROR)

    # --- sending ----------------------------------------------------------------------------
    def upload(self, body: AsyncIterator[Any]) -> Coroutine[Any, Any, None]:
        """The pump of a streamed request body (run as the stream's upload task)."""
        return upload(self, body)

    def _send_body(self, body: bytes) -> None:
        """Send as much of a bytes body as the windows allow now; the rest goes from a task."""
        conn = self.conn
        h = conn.h2
        sid = self.id
        n = len(body)
        window = h.local_flow_control_window(sid)
        frame = h.max_outbound_frame_size
        if n <= window and n <= frame:
            h.send_data(sid, body, end_stream=True)
            self._sent_request()
            return
        view = memoryview(body)
        pos = 0
        while pos < n and window > 0:
            size = min(n - pos, window, frame)
            h.send_data(sid, view[pos : pos + size], end_stream=pos + size == n)
            pos += size
            window -= size
        if pos == n:
            self._sent_request()
            return
        self.upload_task = conn.loop.create_task(upload(self, _rest(view[pos:])))

    async def send(self, data: bytes | bytearray | memoryview) -> None:
        """Send one piece of a streamed body, waiting for flow-control window and socket."""
        conn = self.conn
        h = conn.h2
        sid = self.id
        view = memoryview(data)
        pos = 0
        n = len(view)
        queued = 0
        while pos < n:
            if self.error is not None:
                raise mapped(self.error, "Request failed: ", WriteError)
            if self._h2_closed or conn.closed:
                raise StopUpload
            if conn.write_paused:
                await conn.writable()
                continue
            window = h.local_flow_control_window(sid)
            if window <= 0:
                if queued:
                    conn.flush()
                    queued = 0
                w = self._send_waiter = conn.loop.create_future()
                conn._blocked.add(self)
                await w
                continue
            size = min(n - pos, window, h.max_outbound_frame_size)
            h.send_data(sid, view[pos : pos + size])
            pos += size
            queued += size
            if queued >= WRITE_BATCH:
                conn.flush()
                queued = 0
        if queued:
            conn.flush_soon()

    def end_request(self) -> None:
        if self._h2_closed or self.sent_end:
            return
        self.conn.h2.end_stream(self.id)
        self.conn.flush_soon()
        self._sent_request()

    def _sent_request(self) -> None:
        self.sent_end = True
        self.stamps.stamp_sent()
        if self.recv_end:
            self._closed_by_h2()

    def _wake_sender(self) -> None:
        w = self._send_waiter
        if w is not None:
            self._send_waiter = None
            self.conn._blocked.discard(self)
            if not w.done():
                w.set_result(None)

    # --- state ------------------------------------------------------------------------------
    def _ack(self) -> None:
        n = self._unacked
        self._unacked = 0
        with contextlib.suppress(h2.exceptions.H2Error):
            self.conn.h2.increment_flow_control_window(n, self.id)

    def _reset(self, code: int) -> None:
        conn = self.conn
        self._closed_by_h2()
        if not conn.closed:
            try:
                conn.h2.reset_stream(self.id, code)
            except h2.exceptions.H2Error:
                return
            conn.flush_soon()

    def _closed_by_h2(self) -> None:
        """h2 counts this stream as closed from now on (both ends done, or reset)."""
        if not self._h2_closed:
            self._h2_closed = True
            self.conn._stream_closed(self)

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        self._cancel_timers()
        self._stop_upload()
        self._wake(self.error)

    def _wake(self, exc: BaseException) -> None:
        w = self._waiter
        self._waiter = None
        if w is not None and not w.done():
            if self.head_done and self._buffered:
                w.set_exception(mapped(exc, "Error reading full content: ", ReadError))
            else:
                w.set_exception(
                    mapped(exc, "Request failed: ", ReadError if self.sent_end else WriteError)
                )
        self._wake_reader()  # the consumer calls take_chunk, which raises
        self._wake_sender()

    def _wake_reader(self) -> None:
        w = self._body_waiter
        if w is not None:
            self._body_waiter = None
            if not w.done():
                w.set_result(None)

    def _stop_upload(self) -> None:
        task = self.upload_task
        if task is not None:
            self.upload_task = None
            if task is not asyncio.current_task():
                task.cancel()

    def _cancel_timers(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _start_timers(self, timeout: float | None, read_timeout: float | None) -> None:
        loop = self.conn.loop
        if timeout is not None:
            self._deadline = loop.call_at(loop.time() + timeout, self._on_deadline)
        if read_timeout is not None:
            self._read_timeout = read_timeout
            self._last_read = loop.time()
            self._read_timer = loop.call_at(self._last_read + read_timeout, self._on_read_timer)

    def _on_deadline(self) -> None:
        self._deadline = None
        self._timed_out("request timed out")

    def _on_read_timer(self) -> None:
        loop = self.conn.loop
        now = loop.time()
        due = self._last_read + self._read_timeout
        self._read_timer = None
        if self._waiter is None and self._body_waiter is None and self.head_done:
            # nobody is reading: the consumer's own pace is not a read timeout
            self._last_read = now
            due = now + self._read_timeout
        if now < due:
            self._read_timer = loop.call_at(due, self._on_read_timer)
            return
        self._timed_out("read timed out")

    def _timed_out(self, what: str) -> None:
        if self.message_done:
            return
        self._fail(TimeoutError(what))
        if not self._h2_closed:
            self._reset(CANCEL)


class StopUpload(Exception):
    """The stream ended while its body was still being sent: stop quietly."""


async def _rest(view: memoryview) -> AsyncIterator[memoryview]:
    yield view


async def upload(stream: H2Stream, body: AsyncIterator[Any]) -> None:
    """Pump a streamed request body with flow control; always closes the iterator."""
    exc: BaseException | None = None
    try:
        async for chunk in body:
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise TypeError(f"Request body chunk must be bytes, got {type(chunk).__name__}")
            if chunk:
                await stream.send(chunk)
        stream.end_request()
    except asyncio.CancelledError:
        raise
    except StopUpload:
        pass
    except WriteError as e:
        exc = e
    except BaseException as e:
        exc = WriteError(f"Request failed: stream error sent by user: {reason(INTERNAL_ERROR)}"
                         f": {e}")
        exc.__cause__ = e
    finally:
        aclose = getattr(body, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
    if exc is not None and stream.error is None:
        stream.upload_task = None
        if not stream._h2_closed:
            stream._reset(INTERNAL_ERROR)
        stream._fail(exc)
