"""H1Core: the sans-IO part of one HTTP/1.1 connection that both drivers share.

The asyncio protocol (`_protocol.H1Connection`) and the blocking-socket driver
(`_blocking.BlockingH1`) only move bytes; this core owns the llhttp parser, the explicit phase
of the exchange in flight, the reuse decision, and the choice of the spec's error for a failure
in each phase (through the one classifier, `cpqwest._errors`).
"""

import threading

from cpython.bytearray cimport PyByteArray_AS_STRING
from cpython.pythread cimport PyThread_get_thread_ident

from cpqwest._parser cimport ResponseParser
from cpqwest._pool cimport PooledConnection
from cpqwest._stamps cimport new_stamps, now

from cpqwest._errors import (
    RemoteProtocolError, exchange_error, read_error, write_error,
)


# A read is parsed (its bytes copied out) before the next one starts on the same thread, so the
# connections of a thread share one buffer: an idle connection holds none (it held 256 KiB).
cdef Py_ssize_t READ_BUFFER_SIZE = 1 << 18
cdef object _per_thread = threading.local()


cdef class ReadBuffer:
    def __cinit__(self):
        self.buf = bytearray(READ_BUFFER_SIZE)
        self.view = memoryview(self.buf)
        self.data = PyByteArray_AS_STRING(self.buf)


cdef ReadBuffer _thread_read_buffer():
    """The calling thread's read buffer (made on first use, freed with the thread)."""
    try:
        return <ReadBuffer>_per_thread.buffer
    except AttributeError:
        buffer = _per_thread.buffer = ReadBuffer()
        return buffer


cdef class H1Core(PooledConnection):
    def __cinit__(self):
        self.parser = ResponseParser()
        self.phase = IDLE
        self.request_sent = True

    cdef ReadBuffer read_buffer(self):
        """The buffer to read into now: the calling thread's (a connection may be driven from
        another thread later; the thread-local lookup runs only when the thread changed)."""
        cdef unsigned long thread = PyThread_get_thread_ident()
        if self._rbuf is None or self._rbuf_thread != thread:
            self._rbuf = _thread_read_buffer()
            self._rbuf_thread = thread
        return self._rbuf

    cdef void begin(self, bint head_request, bint buffered, bint body_follows):
        """A new exchange: its request is about to be written (`body_follows`: a streamed
        body comes after the head; `sent()` marks its end)."""
        self.parser.reset(head_request, buffered)
        self._buffered = buffered
        self.got_bytes = False
        self.error = None
        self.request_sent = not body_follows
        self.phase = SENDING if body_follows else AWAIT_HEAD

    cdef int feed(self, const char* data, size_t n) except -1:
        """Response bytes: FED_MORE, FED_HEAD once the head is whole, FED_DONE at the end.
        Bytes with no exchange in flight fail the connection (FAILED, FED_DONE: the driver
        drops it); bytes after the response leave it DONE but not reusable. A framing error
        is raised (the driver fails the exchange with it)."""
        cdef ResponseParser p = self.parser
        cdef int phase = self.phase
        if phase == IDLE or phase == FAILED:
            # bytes nobody asked for: this connection can no longer be trusted
            self.phase = FAILED
            return FED_DONE
        if n and not self.got_bytes:
            self.got_bytes = True
            if self.stamps is not None:
                self.stamps.first = now()
        if p.feed(data, n):
            self._done()
            return FED_DONE
        if p.head_done:
            self.phase = BODY
            return FED_HEAD
        return FED_MORE

    cdef int feed_eof(self, bint tls) except -1:
        """The peer closed its side. Returns 1 when that ended the response; raises the
        cause otherwise (truncated, or no response at all)."""
        if self.parser.feed_eof():
            self._done()
            return 1
        if tls and not self.reused:
            # TLS 1.3 servers reject a client certificate after our side of the handshake is
            # done; a fresh TLS connection closed at once is that rejection
            raise ConnectionError("TLS connection closed by the server before any response")
        raise RemoteProtocolError("connection closed before any response")

    cdef void sent(self):
        """The whole request (its streamed body too) is written."""
        self.request_sent = True
        if self.stamps is not None:
            self.stamps.sent = now()
        if self.phase == SENDING:
            self.phase = AWAIT_HEAD

    cdef void _done(self):
        """The response is complete (its last byte, or the close that ends it, arrived)."""
        self.phase = DONE
        if self.stamps is not None:
            self.stamps.done = now()

    cdef void new_stamps(self, double start):
        """The clock readings of a new exchange, from `start`: the first one on a connection
        reports its setup (DNS, connect, TLS), a later one counts as a reuse on its route."""
        if self.setup is None and self.stats is not None:
            self.stats.reused += 1
        self.stamps = new_stamps(start, self.setup)
        self.setup = None

    cdef bint fail(self, object exc):
        """The exchange failed with `exc` (the first failure wins); the connection is done.
        True if this was the first failure."""
        self.phase = FAILED
        if self.error is None:
            self.error = exc
            return True
        return False

    cpdef bint reusable(self):
        """Whether the connection may carry another request: the response ended cleanly
        with keep-alive, nothing followed it, the request was written whole, and neither
        side asked to close."""
        cdef ResponseParser p = self.parser
        return (self.phase == DONE and p.keep_alive and not p.trailing_data
                and self.request_sent and not self.close_after and self.error is None
                and not self.closed)

    # The spec's class and message for a failure, by phase (API.md §1.1).
    cdef object head_error(self, object cause):
        """For an exchange that failed before its response completed: while the request was
        written, the head awaited, or a buffered body read."""
        return exchange_error(cause, self.parser.head_done, self._buffered, self.request_sent)

    cdef object read_error(self, object cause):
        """For a failure while a streamed body is read."""
        return read_error(cause)

    cdef object write_error(self, object cause):
        """For a failure while the request is written."""
        return write_error(cause)

    # for tests
    @property
    def phase_name(self):
        """The phase as a word (tests pin the phase machine through it)."""
        return ("idle", "sending", "awaiting head", "body", "done", "failed")[self.phase]


cpdef bytes frame_chunk(object data):
    """One chunk of a chunked body (RFC 9112 §7.1)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


cdef class BodyFramer:
    """What a streamed request body puts on the wire, piece by piece: chunked framing, or the
    pieces as they are, exactly `length` bytes in all when the head declared one (>= 0)."""

    def __init__(self, bint chunked, Py_ssize_t length):
        self._chunked = chunked
        self._length = length
        self._sent = 0

    cpdef object frame(self, object chunk):
        """The bytes to send for `chunk` (None for an empty one). TypeError for a piece that
        is not bytes, ValueError past the declared length."""
        cdef Py_ssize_t n
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            raise TypeError("Request body chunk must be bytes, got %s" % type(chunk).__name__)
        n = len(chunk)
        if not n:
            return None
        if self._chunked:
            return frame_chunk(chunk)
        if self._length >= 0:
            self._sent += n
            if self._sent > self._length:
                raise ValueError(
                    "request body longer than its Content-Length (%d)" % self._length)
        return chunk

    cpdef bytes finish(self):
        """The bytes that end the body (b"" if none); ValueError when it fell short of the
        declared length."""
        if self._chunked:
            return b"0\r\n\r\n"
        if 0 <= self._length != self._sent:
            raise ValueError("request body shorter than its Content-Length (%d of %d bytes)"
                             % (self._sent, self._length))
        return b""
