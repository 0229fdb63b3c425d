# cython: freethreading_compatible=False
"""H2Core: the client side of an HTTP/2 connection (RFC 9113) without I/O, in C.

It parses what the server sends (frames, header blocks, flow control, SETTINGS, PING, GOAWAY)
and queues what we send; the owner (`pyqwest._h2.connection.H2Connection`) does the I/O and
writes `data_to_send()` out. Nothing is allocated per frame beyond the payload it delivers:
events go straight to the objects concerned, as method calls:

- on a stream (a `StreamState` subclass): `_on_head(status, fields)`,
  `_on_data(data, flow_len)`, `_on_trailers(fields)`, `_on_end()`, `_on_reset(code)`, `_on_stream_error(code, text)`
  (the server broke the protocol on that stream, which is reset), `_wake_sender()` (its send
  window grew);
- on the owner: `_on_settings()`, `_on_window()` (the connection's send window grew),
  `_on_goaway(code, last_stream_id)`, `_stream_closed(stream)` (the stream left `streams`:
  both ends finished, or reset).

Response heads and trailers are checked as RFC 9113 §8.2 wants and against the limits given
(a stream error otherwise); their fields arrive as (name, value) pairs of str (latin-1).

A connection error raises `ProtocolError` out of the reading call, with GOAWAY queued; the
connection is dead from then on. Frames on streams that are closed (reset by us, or finished)
are dropped, as RFC 9113 §5.4.2 lets a client do; their DATA still counts against and is
acknowledged in the connection's window. Server push is disabled (SETTINGS_ENABLE_PUSH 0), so
PUSH_PROMISE is a connection error. Request heads are coded by `cpqwest._hpack.Encoder`,
response heads decoded by `cpqwest._hpack.Decoder`.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE, PyByteArray_Resize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeLatin1
from libc.stdint cimport int64_t, uint32_t
from libc.string cimport memcpy, memmove

from hpack import HPACKError, OversizedHeaderListError

from cpqwest._hpack import Decoder, Encoder

cdef enum:
    # frame types
    F_DATA = 0
    F_HEADERS = 1
    F_PRIORITY = 2
    F_RST_STREAM = 3
    F_SETTINGS = 4
    F_PUSH_PROMISE = 5
    F_PING = 6
    F_GOAWAY = 7
    F_WINDOW_UPDATE = 8
    F_CONTINUATION = 9
    # flags
    FLAG_END_STREAM = 0x1
    FLAG_ACK = 0x1
    FLAG_END_HEADERS = 0x4
    FLAG_PADDED = 0x8
    FLAG_PRIORITY = 0x20
    # error codes
    NO_ERROR = 0
    PROTOCOL_ERROR = 1
    FLOW_CONTROL_ERROR = 3
    STREAM_CLOSED = 5
    FRAME_SIZE_ERROR = 6
    COMPRESSION_ERROR = 9
    ENHANCE_YOUR_CALM = 11
    # settings
    S_HEADER_TABLE_SIZE = 1
    S_ENABLE_PUSH = 2
    S_MAX_CONCURRENT_STREAMS = 3
    S_INITIAL_WINDOW_SIZE = 4
    S_MAX_FRAME_SIZE = 5
    S_MAX_HEADER_LIST_SIZE = 6
    S_ENABLE_CONNECT_PROTOCOL = 8

cdef int64_t MAX_WINDOW = 0x7FFFFFFF
cdef unsigned int MAX_STREAM_ID = 0x7FFFFFFF
cdef Py_ssize_t DEFAULT_FRAME_SIZE = 16384
cdef Py_ssize_t DEFAULT_WINDOW = 65535
# A header block (HEADERS and its CONTINUATIONs, HPACK-coded) larger than this is refused.
cdef Py_ssize_t MAX_BLOCK = 1 << 20

# Connection-specific fields HTTP/2 forbids (RFC 9113 §8.2.2).
cdef frozenset FORBIDDEN_FIELDS = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)

# tchar (RFC 9110 §5.6.2) without upper case: the characters of a field name
cdef unsigned char TOKEN[256]
cdef bytes _TCHARS = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
cdef Py_ssize_t _i
for _i in range(len(_TCHARS)):
    TOKEN[<unsigned char>_TCHARS[_i]] = 1

cdef bytes PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# The output buffer starts this large and goes back to it when it grew beyond 4 times that.
cdef Py_ssize_t OUT_SIZE = 1 << 16


class ProtocolError(Exception):
    """The server broke HTTP/2 (a connection error): GOAWAY with `code` is queued."""

    def __init__(self, text, code):
        super().__init__(text)
        self.code = code


class UsageError(Exception):
    """A request the connection cannot take (closed, out of stream ids, window exceeded)."""


cdef class StreamState:
    """The protocol state of one stream; its subclass handles the events."""

    cdef readonly unsigned int id
    cdef public bint sent_end      # END_STREAM sent
    cdef public bint recv_end      # END_STREAM received
    cdef public bint closed        # out of the connection's streams (both ends done, or reset)
    cdef bint got_head             # the final response head arrived
    cdef int64_t send_window
    cdef int64_t recv_window


cdef inline void _put_header(char* p, Py_ssize_t length, int ftype, int flags,
                             uint32_t sid) noexcept:
    p[0] = <char>((length >> 16) & 0xFF)
    p[1] = <char>((length >> 8) & 0xFF)
    p[2] = <char>(length & 0xFF)
    p[3] = <char>ftype
    p[4] = <char>flags
    p[5] = <char>((sid >> 24) & 0x7F)
    p[6] = <char>((sid >> 16) & 0xFF)
    p[7] = <char>((sid >> 8) & 0xFF)
    p[8] = <char>(sid & 0xFF)


cdef inline uint32_t _u32(const unsigned char* p) noexcept:
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | p[3]


cdef class H2Core:
    """One client connection's HTTP/2 state (see the module doc)."""

    cdef object _handler
    cdef readonly dict streams     # stream id -> StreamState, the open ones
    cdef readonly Py_ssize_t max_outbound_frame_size
    cdef readonly object max_concurrent_streams  # the server's; None until it says
    cdef readonly bint goaway_received
    cdef readonly bint dead        # GOAWAY sent: nothing more is read or sent
    cdef Py_ssize_t _max_fields
    cdef bytearray _out
    cdef Py_ssize_t _olen
    cdef object _decoder
    cdef object _encoder
    cdef Py_ssize_t _max_in_frame
    cdef Py_ssize_t _max_header_list
    cdef int64_t _local_stream_window    # our SETTINGS_INITIAL_WINDOW_SIZE
    cdef int64_t _remote_stream_window   # the server's
    cdef int64_t _send_conn_window
    cdef int64_t _conn_window            # the connection receive window we keep
    cdef int64_t _recv_conn_window       # what the server may still send
    cdef int64_t _conn_unacked
    cdef int64_t _conn_ack_batch
    cdef unsigned int _next_id
    cdef unsigned int _highest_id
    cdef bint _got_settings
    cdef unsigned int _block_sid         # a header block awaiting CONTINUATION frames
    cdef bint _block_end_stream
    cdef bytearray _block
    cdef bytearray _rbuf                 # reads land here; an incomplete frame stays
    cdef object _rview
    cdef Py_ssize_t _rlen
    cdef Py_ssize_t _rused               # bytes of _rbuf handled by the running _parse

    def __cinit__(self, handler, int64_t stream_window, int64_t conn_window,
                  Py_ssize_t max_frame_size, Py_ssize_t max_header_list_size,
                  Py_ssize_t max_fields, int64_t conn_ack_batch):
        self._handler = handler
        self.streams = {}
        self._out = bytearray(OUT_SIZE)
        self._olen = 0
        # the decoder's limit only guards memory (over it, the HPACK context is lost: a
        # connection error); a head over max_header_list_size is that stream's error
        self._decoder = Decoder(4 * max_header_list_size)
        self._encoder = Encoder()
        self._max_in_frame = max_frame_size
        self._max_header_list = max_header_list_size
        self._max_fields = max_fields
        self._local_stream_window = stream_window
        self._remote_stream_window = DEFAULT_WINDOW
        self.max_outbound_frame_size = DEFAULT_FRAME_SIZE
        self.max_concurrent_streams = None
        self._send_conn_window = DEFAULT_WINDOW
        self._conn_window = conn_window
        self._recv_conn_window = DEFAULT_WINDOW
        self._conn_unacked = 0
        self._conn_ack_batch = conn_ack_batch
        self._next_id = 1
        self._highest_id = 0
        # room for the largest frame we accept and a partial one behind it
        self._rbuf = bytearray(max_frame_size + 9 + (64 << 10))
        self._rview = memoryview(self._rbuf)
        self._rlen = 0

    # --- sending ------------------------------------------------------------------------------
    def initiate(self):
        """Queue the connection preface: SETTINGS and the connection window's raise."""
        cdef char* p
        cdef int i = 0
        cdef uint32_t settings[4][2]
        settings[0][0] = S_ENABLE_PUSH
        settings[0][1] = 0
        settings[1][0] = S_INITIAL_WINDOW_SIZE
        settings[1][1] = <uint32_t>self._local_stream_window
        settings[2][0] = S_MAX_FRAME_SIZE
        settings[2][1] = <uint32_t>self._max_in_frame
        settings[3][0] = S_MAX_HEADER_LIST_SIZE
        settings[3][1] = <uint32_t>self._max_header_list
        p = self._grow(PyBytes_GET_SIZE(PREFACE))
        memcpy(p, PyBytes_AS_STRING(PREFACE), PyBytes_GET_SIZE(PREFACE))
        p = self._grow(9 + 4 * 6)
        _put_header(p, 4 * 6, F_SETTINGS, 0, 0)
        p += 9
        for i in range(4):
            p[0] = <char>(settings[i][0] >> 8)
            p[1] = <char>(settings[i][0] & 0xFF)
            p[2] = <char>(settings[i][1] >> 24)
            p[3] = <char>((settings[i][1] >> 16) & 0xFF)
            p[4] = <char>((settings[i][1] >> 8) & 0xFF)
            p[5] = <char>(settings[i][1] & 0xFF)
            p += 6
        if self._conn_window > DEFAULT_WINDOW:
            self._window_update(0, self._conn_window - DEFAULT_WINDOW)
            self._recv_conn_window = self._conn_window

    def open_stream(self, StreamState stream not None, list headers, bint end_stream):
        """Give `stream` the next stream id and queue its HEADERS (`headers`: (name, value)
        pairs for the HPACK encoder)."""
        cdef unsigned int sid = self._next_id
        cdef bytes block
        cdef Py_ssize_t n, pos, size, frame = self.max_outbound_frame_size
        cdef const char* src
        cdef char* p
        cdef int flags
        if self.dead or self.goaway_received:
            raise UsageError("the connection takes no new streams")
        if sid > MAX_STREAM_ID:
            raise UsageError("out of stream ids")
        block = self._encoder.encode(headers)
        self._next_id = sid + 2
        self._highest_id = sid
        stream.id = sid
        stream.send_window = self._remote_stream_window
        stream.recv_window = self._local_stream_window
        n = PyBytes_GET_SIZE(block)
        src = PyBytes_AS_STRING(block)
        flags = FLAG_END_STREAM if end_stream else 0
        size = n if n <= frame else frame
        p = self._grow(9 + size)
        _put_header(p, size, F_HEADERS, flags | (FLAG_END_HEADERS if size == n else 0), sid)
        memcpy(p + 9, src, size)
        pos = size
        while pos < n:
            size = n - pos if n - pos <= frame else frame
            p = self._grow(9 + size)
            _put_header(p, size, F_CONTINUATION, FLAG_END_HEADERS if pos + size == n else 0,
                        sid)
            memcpy(p + 9, src + pos, size)
            pos += size
        self.streams[sid] = stream
        if end_stream:
            stream.sent_end = True

    def flow_window(self, StreamState stream not None):
        """How many bytes of DATA `stream` may send now (both windows; may be < 0)."""
        return min(self._send_conn_window, stream.send_window)

    def send_data(self, StreamState stream not None, data, bint end_stream=False):
        """Queue one DATA frame; the caller keeps within `flow_window` and
        `max_outbound_frame_size`."""
        cdef Py_buffer view
        cdef char* p
        cdef Py_ssize_t n
        if stream.closed or stream.sent_end:
            raise UsageError("the stream is closed")
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            n = view.len
            if n > self._send_conn_window or n > stream.send_window:
                raise UsageError("flow-control window exceeded")
            if n > self.max_outbound_frame_size:
                raise UsageError("frame larger than the peer's SETTINGS_MAX_FRAME_SIZE")
            p = self._grow(9 + n)
            _put_header(p, n, F_DATA, FLAG_END_STREAM if end_stream else 0, stream.id)
            memcpy(p + 9, view.buf, n)
        finally:
            PyBuffer_Release(&view)
        self._send_conn_window -= n
        stream.send_window -= n
        if end_stream:
            self._end_local(stream)

    def end_stream(self, StreamState stream not None):
        """Queue an empty DATA frame with END_STREAM."""
        cdef char* p
        if stream.closed or stream.sent_end:
            return
        p = self._grow(9)
        _put_header(p, 0, F_DATA, FLAG_END_STREAM, stream.id)
        self._end_local(stream)

    def acknowledge(self, StreamState stream not None, int64_t n):
        """The consumer took `n` bytes of the stream's data: grow its receive window (unless
        no more can come)."""
        if stream.closed or stream.recv_end or n <= 0 or self.dead:
            return
        stream.recv_window += n
        self._window_update(stream.id, n)

    def reset_stream(self, StreamState stream not None, uint32_t code):
        """RST_STREAM (nothing is sent once the connection is dead); the stream is closed."""
        cdef char* p
        if stream.closed:
            return
        if not self.dead:
            p = self._grow(13)
            _put_header(p, 4, F_RST_STREAM, 0, stream.id)
            p[9] = <char>(code >> 24)
            p[10] = <char>((code >> 16) & 0xFF)
            p[11] = <char>((code >> 8) & 0xFF)
            p[12] = <char>(code & 0xFF)
        self._close(stream)

    def discard(self, StreamState stream not None):
        """Close `stream` without a frame (the server never processed it: GOAWAY)."""
        if not stream.closed:
            self._close(stream)

    def close_connection(self, uint32_t code=0):
        """Queue GOAWAY; the connection is dead from then on (nothing more is read)."""
        if not self.dead:
            self._goaway(code)

    def data_to_send(self):
        """Everything queued since the last call, as one bytes object (b"" if nothing)."""
        cdef Py_ssize_t n = self._olen
        if n == 0:
            return b""
        data = PyBytes_FromStringAndSize(PyByteArray_AS_STRING(self._out), n)
        self._olen = 0
        if PyByteArray_GET_SIZE(self._out) > 4 * OUT_SIZE:
            PyByteArray_Resize(self._out, OUT_SIZE)
        return data

    cdef char* _grow(self, Py_ssize_t n) except NULL:
        """Room for n more bytes at the end of the output; returns where they go."""
        cdef Py_ssize_t k = self._olen
        cdef Py_ssize_t size = PyByteArray_GET_SIZE(self._out)
        if k + n > size:
            PyByteArray_Resize(self._out, max(2 * size, k + n))
        self._olen = k + n
        return PyByteArray_AS_STRING(self._out) + k

    cdef int _window_update(self, uint32_t sid, int64_t n) except -1:
        cdef char* p = self._grow(13)
        _put_header(p, 4, F_WINDOW_UPDATE, 0, sid)
        p[9] = <char>((n >> 24) & 0x7F)
        p[10] = <char>((n >> 16) & 0xFF)
        p[11] = <char>((n >> 8) & 0xFF)
        p[12] = <char>(n & 0xFF)
        return 0

    cdef int _goaway(self, uint32_t code) except -1:
        cdef char* p = self._grow(17)
        _put_header(p, 8, F_GOAWAY, 0, 0)
        # last-stream-id: the highest server-initiated stream we processed (none: push is off)
        p[9] = p[10] = p[11] = p[12] = 0
        p[13] = <char>(code >> 24)
        p[14] = <char>((code >> 16) & 0xFF)
        p[15] = <char>((code >> 8) & 0xFF)
        p[16] = <char>(code & 0xFF)
        self.dead = True
        return 0

    cdef int _end_local(self, StreamState stream) except -1:
        stream.sent_end = True
        if stream.recv_end:
            self._close(stream)
        return 0

    cdef int _close(self, StreamState stream) except -1:
        stream.closed = True
        if self.streams.pop(stream.id, None) is not None:
            self._handler._stream_closed(stream)
        return 0

    # --- receiving ----------------------------------------------------------------------------
    def get_buffer(self):
        """Where the next read goes (asyncio.BufferedProtocol.get_buffer)."""
        return self._rview[self._rlen:]

    def buffer_updated(self, Py_ssize_t nbytes):
        """`nbytes` were read into the buffer: handle every complete frame in it."""
        self._rlen += nbytes
        self._consume()

    def receive_data(self, data):
        """Handle `data` (any bytes-like object), as read from the socket."""
        cdef Py_buffer view
        cdef Py_ssize_t pos = 0, room, size
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            while pos < view.len and not self.dead:
                room = PyByteArray_GET_SIZE(self._rbuf) - self._rlen
                size = view.len - pos if view.len - pos <= room else room
                memcpy(PyByteArray_AS_STRING(self._rbuf) + self._rlen,
                       <char*>view.buf + pos, size)
                pos += size
                self._rlen += size
                self._consume()
        finally:
            PyBuffer_Release(&view)

    cdef int _consume(self) except -1:
        cdef char* base = PyByteArray_AS_STRING(self._rbuf)
        cdef Py_ssize_t used
        self._rused = 0
        try:
            self._parse(<const unsigned char*>base, self._rlen)
        finally:
            # frames handled stay handled, even when a handler raised
            used = self._rused
            if self.dead:
                self._rlen = 0
            elif used:
                self._rlen -= used
                if self._rlen:
                    memmove(base, base + used, self._rlen)
        if self._conn_unacked >= self._conn_ack_batch and not self.dead:
            self._recv_conn_window += self._conn_unacked
            self._window_update(0, self._conn_unacked)
            self._conn_unacked = 0
        return 0

    cdef Py_ssize_t _parse(self, const unsigned char* buf, Py_ssize_t n) except -1:
        """Handle the complete frames in buf[:n]; returns the bytes used."""
        cdef Py_ssize_t pos = 0, length
        cdef int ftype, flags
        cdef uint32_t sid
        cdef const unsigned char* p
        while n - pos >= 9 and not self.dead:
            p = buf + pos
            length = (<Py_ssize_t>p[0] << 16) | (<Py_ssize_t>p[1] << 8) | p[2]
            ftype = p[3]
            flags = p[4]
            sid = _u32(p + 5) & 0x7FFFFFFF
            if length > self._max_in_frame:
                self._error(FRAME_SIZE_ERROR,
                            f"frame of {length} bytes, more than SETTINGS_MAX_FRAME_SIZE")
            if n - pos - 9 < length:
                break
            pos += 9 + length
            self._rused = pos
            if not self._got_settings and (ftype != F_SETTINGS or flags & FLAG_ACK):
                self._error(PROTOCOL_ERROR, "the server's first frame is not SETTINGS")
            if self._block_sid and ftype != F_CONTINUATION:
                self._error(PROTOCOL_ERROR, "a header block interrupted by another frame")
            if ftype == F_DATA:
                self._on_data(flags, sid, p + 9, length)
            elif ftype == F_HEADERS:
                self._on_headers(flags, sid, p + 9, length)
            elif ftype == F_CONTINUATION:
                self._on_continuation(flags, sid, p + 9, length)
            elif ftype == F_WINDOW_UPDATE:
                self._on_window_update(sid, p + 9, length)
            elif ftype == F_RST_STREAM:
                self._on_rst_stream(sid, p + 9, length)
            elif ftype == F_SETTINGS:
                self._on_settings(flags, sid, p + 9, length)
            elif ftype == F_PING:
                self._on_ping(flags, sid, p + 9, length)
            elif ftype == F_GOAWAY:
                self._on_goaway(sid, p + 9, length)
            elif ftype == F_PRIORITY:
                if sid == 0:
                    self._error(PROTOCOL_ERROR, "PRIORITY frame on stream 0")
                if length != 5:
                    self._error(FRAME_SIZE_ERROR, "PRIORITY frame of a wrong size")
            elif ftype == F_PUSH_PROMISE:
                self._error(PROTOCOL_ERROR, "PUSH_PROMISE frame with push disabled")
            # other frame types are ignored (RFC 9113 §4.1)
        return pos

    cdef int _error(self, uint32_t code, str text) except -1:
        """A connection error: queue GOAWAY and raise."""
        if not self.dead:
            self._goaway(code)
        raise ProtocolError(text, code)

    cdef StreamState _stream(self, uint32_t sid, str what):
        """The open stream `sid`, or None when it is closed; an idle one is an error."""
        cdef object s = self.streams.get(sid)
        if s is not None:
            return <StreamState>s
        if sid == 0:
            self._error(PROTOCOL_ERROR, f"{what} frame on stream 0")
        if not sid & 1:
            self._error(PROTOCOL_ERROR, f"{what} frame on a server-initiated stream {sid}")
        if sid > self._highest_id:
            self._error(PROTOCOL_ERROR, f"{what} frame on idle stream {sid}")
        return None

    cdef int _stream_error(self, StreamState s, uint32_t code, str text) except -1:
        """The server broke the protocol on one stream: reset it, tell it."""
        self.reset_stream(s, code)
        s._on_stream_error(code, text)
        return 0

    cdef int _end_remote(self, StreamState s) except -1:
        """END_STREAM received: the stream is closed when the request has ended too (closed
        before `_on_end`, which resets a stream whose request is still being sent; the owner
        hears of it after, when the response is complete)."""
        s.recv_end = True
        if not s.sent_end:
            s._on_end()
            return 0
        s.closed = True
        del self.streams[s.id]
        s._on_end()
        self._handler._stream_closed(s)
        return 0

    cdef int _on_data(self, int flags, uint32_t sid, const unsigned char* p,
                      Py_ssize_t length) except -1:
        cdef Py_ssize_t start = 0, size = length, pad
        cdef StreamState s
        if sid == 0:
            self._error(PROTOCOL_ERROR, "DATA frame on stream 0")
        if flags & FLAG_PADDED:
            if length < 1:
                self._error(FRAME_SIZE_ERROR, "padded DATA frame without a pad length")
            pad = p[0]
            if pad >= length:
                self._error(PROTOCOL_ERROR, "DATA frame padding longer than its payload")
            start = 1
            size = length - 1 - pad
        self._recv_conn_window -= length
        if self._recv_conn_window < 0:
            self._error(FLOW_CONTROL_ERROR, "connection flow-control window exceeded")
        self._conn_unacked += length
        s = self._stream(sid, "DATA")
        if s is None:
            return 0
        if s.recv_end:
            self._error(STREAM_CLOSED, f"DATA frame after END_STREAM on stream {sid}")
        if not s.got_head:
            return self._stream_error(s, PROTOCOL_ERROR, "DATA frame before the response head")
        s.recv_window -= length
        if s.recv_window < 0:
            return self._stream_error(s, FLOW_CONTROL_ERROR,
                                      "stream flow-control window exceeded")
        if flags & FLAG_END_STREAM:
            s.recv_end = True  # before _on_data: nothing more to acknowledge
        if length:
            s._on_data(PyBytes_FromStringAndSize(<const char*>p + start, size), length)
        if flags & FLAG_END_STREAM and not s.closed:
            self._end_remote(s)
        return 0

    cdef int _on_headers(self, int flags, uint32_t sid, const unsigned char* p,
                         Py_ssize_t length) except -1:
        cdef Py_ssize_t start = 0, end = length, pad = 0
        if sid == 0:
            self._error(PROTOCOL_ERROR, "HEADERS frame on stream 0")
        if flags & FLAG_PADDED:
            if length < 1:
                self._error(FRAME_SIZE_ERROR, "padded HEADERS frame without a pad length")
            pad = p[0]
            start = 1
        if flags & FLAG_PRIORITY:
            start += 5
        if start + pad > end:
            self._error(PROTOCOL_ERROR, "HEADERS frame padding longer than its payload")
        end -= pad
        if flags & FLAG_END_HEADERS:
            return self._on_block(sid, flags & FLAG_END_STREAM,
                                  PyBytes_FromStringAndSize(<const char*>p + start, end - start))
        self._block_sid = sid
        self._block_end_stream = flags & FLAG_END_STREAM
        self._block = bytearray(<bytes>PyBytes_FromStringAndSize(<const char*>p + start,
                                                                 end - start))
        return 0

    cdef int _on_continuation(self, int flags, uint32_t sid, const unsigned char* p,
                              Py_ssize_t length) except -1:
        if not self._block_sid or sid != self._block_sid:
            self._error(PROTOCOL_ERROR, "CONTINUATION frame without a header block")
        self._block += PyBytes_FromStringAndSize(<const char*>p, length)
        if PyByteArray_GET_SIZE(self._block) > MAX_BLOCK:
            self._error(ENHANCE_YOUR_CALM, f"header block larger than {MAX_BLOCK} bytes")
        if flags & FLAG_END_HEADERS:
            block = bytes(self._block)
            self._block = None
            self._block_sid = 0
            return self._on_block(sid, self._block_end_stream, block)
        return 0

    cdef int _on_block(self, uint32_t sid, bint end_stream, bytes block) except -1:
        cdef list fields, pairs
        cdef StreamState s
        cdef tuple first
        cdef str problem
        cdef int status = -1
        # decoded whatever the stream's state: the HPACK table is the connection's
        try:
            fields = self._decoder.decode(block, True)
        except OversizedHeaderListError:
            self._error(ENHANCE_YOUR_CALM,
                        f"header list larger than {4 * self._max_header_list} bytes")
        except HPACKError as exc:
            self._error(COMPRESSION_ERROR, f"invalid header block: {exc}")
        s = self._stream(sid, "HEADERS")
        if s is None:
            return 0
        if s.recv_end:
            self._error(STREAM_CLOSED, f"HEADERS frame after END_STREAM on stream {sid}")
        if not s.got_head:
            if fields:
                first = <tuple>fields[0]
                if first[0] == b":status" and (<bytes>first[1])[:1] == b"1":
                    # an informational (1xx) response: skipped
                    if end_stream:
                        return self._stream_error(s, PROTOCOL_ERROR,
                                                  "informational response with END_STREAM")
                    return 0
            pairs = []
            problem = self._fields(fields, &status, pairs)
            if problem is not None:
                return self._stream_error(s, PROTOCOL_ERROR, problem)
            s.got_head = True
            s._on_head(status, pairs)
        elif not end_stream:
            return self._stream_error(s, PROTOCOL_ERROR, "trailers without END_STREAM")
        else:
            pairs = []
            problem = self._fields(fields, NULL, pairs)
            if problem is not None:
                return self._stream_error(s, PROTOCOL_ERROR, problem)
            s._on_trailers(pairs)
        if end_stream and not s.closed:
            self._end_remote(s)
        return 0

    cdef str _fields(self, list fields, int* status, list pairs):
        """Check a response head (`status` given) or trailers (NULL) as RFC 9113 §8.2 wants,
        append its (name, value) str pairs to `pairs`; the problem, or None."""
        cdef Py_ssize_t size = 0, n_name, n_value, i
        cdef const unsigned char* name
        cdef const unsigned char* value
        cdef unsigned char c
        cdef bytes b_name, b_value
        for field in fields:
            b_name = <bytes>(<tuple>field)[0]
            b_value = <bytes>(<tuple>field)[1]
            name = <const unsigned char*>PyBytes_AS_STRING(b_name)
            value = <const unsigned char*>PyBytes_AS_STRING(b_value)
            n_name = PyBytes_GET_SIZE(b_name)
            n_value = PyBytes_GET_SIZE(b_value)
            if n_name and name[0] == 0x3A:  # ":"
                if status == NULL or pairs or b_name != b":status" or status[0] >= 0:
                    return f"unexpected pseudo-header field {b_name!r}"
                if (n_value != 3 or not 0x30 <= value[0] <= 0x39 or not 0x30 <= value[1] <= 0x39
                        or not 0x30 <= value[2] <= 0x39):
                    return f"invalid :status {b_value!r}"
                status[0] = (value[0] - 0x30) * 100 + (value[1] - 0x30) * 10 + value[2] - 0x30
                continue
            if n_name == 0:
                return f"invalid header field {b_name!r}"
            for i in range(n_name):
                if not TOKEN[name[i]]:
                    return f"invalid header field {b_name!r}"
            for i in range(n_value):
                c = value[i]
                if c == 0 or c == 0x0D or c == 0x0A:
                    return f"invalid header field {b_name!r}"
            if b_name in FORBIDDEN_FIELDS:
                return f"invalid header field {b_name!r}"
            size += n_name + n_value
            pairs.append((PyUnicode_DecodeLatin1(<const char*>name, n_name, NULL),
                          PyUnicode_DecodeLatin1(<const char*>value, n_value, NULL)))
        if status != NULL and status[0] < 0:
            return "response without :status"
        if len(pairs) > self._max_fields:
            return f"more than {self._max_fields} header fields"
        if size > self._max_header_list:
            return f"response head larger than {self._max_header_list} bytes"
        return None

    cdef int _on_window_update(self, uint32_t sid, const unsigned char* p,
                               Py_ssize_t length) except -1:
        cdef int64_t inc
        cdef StreamState s
        if length != 4:
            self._error(FRAME_SIZE_ERROR, "WINDOW_UPDATE frame of a wrong size")
        inc = _u32(p) & 0x7FFFFFFF
        if sid == 0:
            if inc == 0:
                self._error(PROTOCOL_ERROR, "connection WINDOW_UPDATE of 0")
            self._send_conn_window += inc
            if self._send_conn_window > MAX_WINDOW:
                self._error(FLOW_CONTROL_ERROR, "connection window grown over 2**31-1")
            self._handler._on_window()
            return 0
        s = self._stream(sid, "WINDOW_UPDATE")
        if s is None:
            return 0
        if inc == 0:
            return self._stream_error(s, PROTOCOL_ERROR, "stream WINDOW_UPDATE of 0")
        s.send_window += inc
        if s.send_window > MAX_WINDOW:
            return self._stream_error(s, FLOW_CONTROL_ERROR, "stream window grown over 2**31-1")
        s._wake_sender()
        return 0

    cdef int _on_rst_stream(self, uint32_t sid, const unsigned char* p,
                            Py_ssize_t length) except -1:
        cdef StreamState s
        if length != 4:
            self._error(FRAME_SIZE_ERROR, "RST_STREAM frame of a wrong size")
        s = self._stream(sid, "RST_STREAM")
        if s is None:
            return 0
        self._close(s)
        s._on_reset(_u32(p))
        return 0

    cdef int _on_settings(self, int flags, uint32_t sid, const unsigned char* p,
                          Py_ssize_t length) except -1:
        cdef Py_ssize_t i
        cdef unsigned int ident
        cdef int64_t value, delta
        cdef StreamState s
        if sid != 0:
            self._error(PROTOCOL_ERROR, "SETTINGS frame on a stream")
        if flags & FLAG_ACK:
            if length:
                self._error(FRAME_SIZE_ERROR, "SETTINGS ACK with a payload")
            return 0
        if length % 6:
            self._error(FRAME_SIZE_ERROR, "SETTINGS frame of a wrong size")
        for i in range(0, length, 6):
            ident = (<unsigned int>p[i] << 8) | p[i + 1]
            value = _u32(p + i + 2)
            if ident == S_MAX_CONCURRENT_STREAMS:
                self.max_concurrent_streams = value
            elif ident == S_INITIAL_WINDOW_SIZE:
                if value > MAX_WINDOW:
                    self._error(FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE over 2**31-1")
                delta = value - self._remote_stream_window
                self._remote_stream_window = value
                if delta:
                    for s in self.streams.values():
                        s.send_window += delta
                        if s.send_window > MAX_WINDOW:
                            self._error(FLOW_CONTROL_ERROR, "stream window grown over 2**31-1")
            elif ident == S_MAX_FRAME_SIZE:
                if value < DEFAULT_FRAME_SIZE or value > 0xFFFFFF:
                    self._error(PROTOCOL_ERROR, f"invalid SETTINGS_MAX_FRAME_SIZE {value}")
                self.max_outbound_frame_size = value
            elif ident == S_ENABLE_PUSH or ident == S_ENABLE_CONNECT_PROTOCOL:
                if value > 1:
                    self._error(PROTOCOL_ERROR, f"invalid value {value} of setting {ident}")
            # HEADER_TABLE_SIZE: our encoder's table stays at 0, within any limit;
            # MAX_HEADER_LIST_SIZE is advisory; unknown settings are ignored
        _put_header(self._grow(9), 0, F_SETTINGS, FLAG_ACK, 0)
        self._got_settings = True
        self._handler._on_settings()
        return 0

    cdef int _on_ping(self, int flags, uint32_t sid, const unsigned char* p,
                      Py_ssize_t length) except -1:
        cdef char* out
        if sid != 0:
            self._error(PROTOCOL_ERROR, "PING frame on a stream")
        if length != 8:
            self._error(FRAME_SIZE_ERROR, "PING frame of a wrong size")
        if not flags & FLAG_ACK:
            out = self._grow(17)
            _put_header(out, 8, F_PING, FLAG_ACK, 0)
            memcpy(out + 9, p, 8)
        return 0

    cdef int _on_goaway(self, uint32_t sid, const unsigned char* p,
                        Py_ssize_t length) except -1:
        if sid != 0:
            self._error(PROTOCOL_ERROR, "GOAWAY frame on a stream")
        if length < 8:
            self._error(FRAME_SIZE_ERROR, "GOAWAY frame of a wrong size")
        self.goaway_received = True
        self._handler._on_goaway(_u32(p + 4), _u32(p) & 0x7FFFFFFF)
        return 0

