"""H1Connection: the asyncio driver of one HTTP/1.1 connection (an H1Core on a loop transport).

It writes request bytes, feeds what arrives to the core (parser, phase, reuse decision, error
choice: `_h1`), applies read and write back-pressure, runs the timers, and wakes the waiting
exchange or body consumer. The exchange logic (pool, retries, uploads) lives in `_exchange`.
"""

import asyncio
import os

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE

from cpqwest._h1 cimport (
    AWAIT_HEAD, BODY, DONE, FAILED, FED_DONE, FED_HEAD, IDLE, SENDING, H1Core,
)
from cpqwest._parser cimport ResponseParser
from cpqwest._pool cimport Pool

from cpqwest._errors import RemoteProtocolError

# Streaming reads: stop reading the socket when this much body is parsed and not yet consumed.
cdef Py_ssize_t READ_HIGH_WATER = 1 << 20
cdef Py_ssize_t READ_LOW_WATER = 1 << 18

# take_chunk(): no body piece is ready yet
WAIT = object()
cdef object _WAIT = WAIT


cdef class H1Connection(H1Core):
    def __cinit__(self):
        self._read_timeout = -1.0

    def __init__(self, loop, key):
        self._loop = loop
        self.key = key

    # --- asyncio protocol interface -------------------------------------------------------
    def connection_made(self, transport):
        self.transport = transport

    def get_buffer(self, Py_ssize_t sizehint):
        if self._direct:
            return self.parser.direct_window()
        return self.read_buffer().view

    def buffer_updated(self, Py_ssize_t nbytes):
        if self._direct:
            self._direct_updated(nbytes)
        else:
            self._on_data(self._rbuf.data, nbytes)

    cdef void _direct_updated(self, Py_ssize_t nbytes):
        if self._read_timeout >= 0:
            self._last_read = self._loop.time()
        self.parser.direct_filled(nbytes)
        if not self.parser.direct_pending():
            # the rest (the last body byte and whatever follows) is read as usual
            self._direct = False

    def data_received(self, bytes data):
        self._on_data(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))

    def eof_received(self):
        if not self._in_flight():
            self.close()
            return False
        try:
            # asyncio hides a TLS alert: the core words a fresh TLS connection's close
            self.feed_eof(self.transport.get_extra_info("ssl_object") is not None)
        except (RemoteProtocolError, ConnectionError) as exc:
            self._fail(exc)
            return False
        self._message_complete()
        return False

    cdef bint _in_flight(self):
        return self.phase != IDLE and self.phase != FAILED

    def connection_lost(self, exc):
        # a peer closing an idle connection is no failure; one closing mid-exchange is
        self._count_close(exc is not None or (self._in_flight() and not self.parser.message_done))
        if self._in_flight() and not self.parser.message_done and self.error is None:
            # a failed transport may have left the peer's answer in the socket
            cause = self._salvage(exc) if exc is not None else None
            if cause is None:
                self.eof_received()
            if self.error is None and not self.parser.message_done:
                self._fail(cause if cause is not None else ConnectionResetError("connection lost"))
        if self._drain_waiter is not None:
            self._wake_drain(exc)
        self._cancel_timers()

    cdef object _salvage(self, object exc):
        """The transport failed (a write met the peer's reset) and stopped reading: the
        response the peer sent before it reset (a 413 to an upload it will not read) may still
        wait in the socket, which the loop closes only after connection_lost. Read it now.
        Returns None when bytes were read and then the peer's FIN (which may end the
        response), else `exc`. (TLS records would need the TLS layer the transport has already
        dropped: not salvaged.)"""
        cdef bint got = False
        t = self.transport
        if t is None or t.get_extra_info("ssl_object") is not None:
            return exc
        sock = t.get_extra_info("socket")
        fd = sock.fileno() if sock is not None else -1
        if fd < 0:
            return exc
        while self._in_flight() and not self.parser.message_done and self.error is None:
            try:
                n = os.readv(fd, (self.get_buffer(-1),))
            except OSError:
                return exc   # drained (EAGAIN), or the reset itself once the data is read
            if n == 0:
                return None if got else exc   # (a read reset leaves only EOF behind)
            got = True
            self.buffer_updated(n)
        return exc

    def pause_writing(self):
        self._writing_paused = True

    def resume_writing(self):
        self._writing_paused = False
        if self._drain_waiter is not None:
            self._wake_drain(None)

    def _wake_drain(self, exc):
        w = self._drain_waiter
        self._drain_waiter = None
        if not w.done():
            if exc is None and self.error is None:
                w.set_result(None)
            else:
                w.set_exception(self.write_error(exc if exc is not None else self.error))

    # --- requests ---------------------------------------------------------------------------
    cdef object start(self, bytes data, bint head_request, bint buffered, bint body_follows,
                      object timeout, object read_timeout):
        """Write a request head (and body); return the future of its response: resolved at the
        head (streaming, with None) or at the end (buffered, with the whole message)."""
        cdef object loop = self._loop
        self.begin(head_request, buffered, body_follows)
        self._direct = False
        waiter = self._waiter = loop.create_future()
        if timeout is not None:
            self._deadline_timer = loop.call_at(loop.time() + timeout, self._on_deadline)
        if read_timeout is not None:
            self._read_timeout = read_timeout
            self._last_read = loop.time()
            self._read_timer = loop.call_at(self._last_read + read_timeout, self._on_read_timer)
        else:
            self._read_timeout = -1.0
        self.transport.write(data)
        if self.request_sent:
            self.sent()  # (a streamed body's pump marks its own end)
        return waiter

    def write(self, data):
        if self.error is not None:
            raise self.write_error(self.error)
        if self.closed or self.transport.is_closing():
            raise self.write_error(ConnectionResetError("connection closed"))
        self.transport.write(data)

    def drain(self):
        """None when the socket takes more now, else a future resolved when it does."""
        if self.error is not None:
            raise self.write_error(self.error)
        if not self._writing_paused:
            return None
        if self._drain_waiter is None:
            self._drain_waiter = self._loop.create_future()
        return self._drain_waiter

    def end_request(self):
        self.sent()

    cdef void _on_data(self, const char* data, size_t n):
        cdef ResponseParser parser = self.parser
        cdef int event
        if self._read_timeout >= 0:
            self._last_read = self._loop.time()
        try:
            event = self.feed(data, n)
        except BaseException as exc:
            self._fail(exc)
            return
        if event == FED_DONE:
            if self.phase == FAILED:
                self.abort()   # bytes with no request in flight
            else:
                self._message_complete()
            return
        if event != FED_HEAD:
            return
        if self._buffered:
            if parser.direct_pending():
                self._direct = True
            return
        w = self._waiter
        if w is not None:
            self._waiter = None
            if not w.done():
                w.set_result(None)
        if parser.body_size:
            w = self._body_waiter
            if w is not None:
                self._body_waiter = None
                if not w.done():
                    w.set_result(None)
            if parser.body_size > READ_HIGH_WATER and not self._reading_paused:
                self._reading_paused = True
                self.transport.pause_reading()

    cdef void _message_complete(self):
        cdef ResponseParser p = self.parser
        self._cancel_timers()
        w = self._waiter
        self._waiter = None
        if self._buffered:
            result = (p.status, p.notable, p.reason, p.headers, p.take_body(), p.trailers,
                      self.stamps)
            self.release()
            if w is not None and not w.done():
                w.set_result(result)
            return
        if w is not None and not w.done():
            w.set_result(None)
        w = self._body_waiter
        if w is not None:
            self._body_waiter = None
            if not w.done():
                w.set_result(None)

    # --- streaming body, for the response's consumer -----------------------------------------
    cpdef object take_chunk(self):
        """The next body piece, None at the end, WAIT if none is ready; raises the failure."""
        cdef ResponseParser p = self.parser
        cdef bytes chunk
        if p.body_size:
            chunk = p.take_body()
            if self._reading_paused and not self.closed:
                self._reading_paused = False
                self.transport.resume_reading()
            return chunk
        if self.error is not None:
            raise self.read_error(self.error)
        if p.message_done:
            return None
        return _WAIT

    cpdef object wait_chunk(self):
        if self._body_waiter is None:
            self._body_waiter = self._loop.create_future()
        return self._body_waiter

    cpdef void release(self):
        """The response is finished with: back to the pool if reusable, else closed."""
        self._cancel_timers()
        # a response that came while part of our request still waits in the transport's
        # buffer was sent before the server read it all (an early 413): whether it reads the
        # rest is unknown, so the connection is closed, not pooled
        if (self.reusable() and self.pool is not None
                and not self.transport.get_write_buffer_size()):
            self.phase = IDLE
            self.reused = True  # it served a request: a later failure may be a stale socket
            (<Pool>self.pool).checkin(self)
        else:
            self.phase = FAILED
            self.close()

    cpdef void abort(self, object exc=None):
        """Give up on this connection (cancelled request, unread body): close it for good."""
        if exc is not None:
            self.fail(exc)
        else:
            self.phase = FAILED
        self._cancel_timers()
        self.close()
        if exc is not None:
            self._wake(exc)

    cpdef void close(self):
        self._count_close(self.error is not None)
        t = self.transport
        if t is not None and not t.is_closing():
            try:
                t.abort()
            except RuntimeError:
                # its event loop is closed already: close the socket itself
                _close_socket_of(t)
        if self.upload_task is not None:
            self.upload_task.cancel()
            self.upload_task = None

    # --- failures ---------------------------------------------------------------------------
    cdef void _fail(self, object exc):
        self.fail(exc)
        self._cancel_timers()
        self.close()
        self._wake(exc)

    cdef void _wake(self, object exc):
        w = self._waiter
        self._waiter = None
        if w is not None and not w.done():
            if self.parser.head_done and not self._buffered:
                # the head was whole (it came in the same read as the failure): the response
                # is returned and its body raises, whatever the packet boundaries were
                w.set_result(None)
            else:
                w.set_exception(self.head_error(exc))
        w = self._body_waiter
        self._body_waiter = None
        if w is not None and not w.done():
            w.set_result(None)   # the consumer calls take_chunk, which raises

    cdef void _cancel_timers(self):
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
            self._deadline_timer = None
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _on_deadline(self):
        self._deadline_timer = None
        self._fail(TimeoutError("request timed out"))

    def _on_read_timer(self):
        cdef double now = self._loop.time()
        cdef double due = self._last_read + self._read_timeout
        self._read_timer = None
        if self._waiter is None and self._body_waiter is None and not self._buffered \
                and self.parser.head_done:
            # nobody is reading: the consumer's own pace is not a read timeout
            self._last_read = now
            due = now + self._read_timeout
        if now < due:
            self._read_timer = self._loop.call_at(due, self._on_read_timer)
            return
        self._fail(TimeoutError("read timed out"))


cdef void _close_socket_of(object transport):
    sock = transport.get_extra_info("socket")
    raw = getattr(sock, "_sock", None)
    if raw is not None:
        raw.close()


class H1Protocol(H1Connection, asyncio.BufferedProtocol):
    """asyncio reads into our one reused buffer only for real BufferedProtocol subclasses."""
    __slots__ = ()
