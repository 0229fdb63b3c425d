"""FrameReader: the frames of an HTTP/2 connection's received bytes, for h2 (it takes the place of
h2's FrameBuffer as `H2Connection.incoming_buffer`; pyqwest._h2.library installs it), and
`header_block_frames` and `data_frame_head`: the bytes of the HEADERS (and CONTINUATION) frames
of a request head and the header of a DATA frame, as h2 would serialize them, without
hyperframe's frame objects.

h2 stays the authority on what the frames mean; this only cuts the bytes. The frames of nearly
every exchange (DATA, HEADERS that end their header block, WINDOW_UPDATE, without padding or
priority) are built here, in one step and without hyperframe's per-frame Flags objects, as
instances of hyperframe's classes whose repr is cheap: h2 formats the repr of every frame it
receives for a logger that drops it. Every other frame, and any frame inside a header block, is
parsed by hyperframe itself. The header-block rule (CONTINUATION frames follow on the same
stream, at most `CONTINUATION_LIMIT` frames per block) is h2's, and so are the errors raised.
A frame longer than the limit fails as soon as its header arrives, not once it is buffered.
"""

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.string cimport memcpy

from h2.exceptions import FrameDataMissingError, FrameTooLargeError, ProtocolError
from hyperframe.exceptions import InvalidDataError, InvalidFrameError
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    HeadersFrame,
    PushPromiseFrame,
    WindowUpdateFrame,
)

# A header block's frames at most (HEADERS or PUSH_PROMISE and its CONTINUATIONs): a peer
# sending CONTINUATION after CONTINUATION is a denial of service (the value h2 uses)
CONTINUATION_LIMIT = 64


class QuietDataFrame(DataFrame):
    """A DATA frame built by FrameReader (no padding)."""

    def __repr__(self):
        return "DataFrame(stream_id=%d, %d bytes)" % (self.stream_id, len(self.data))


class QuietHeadersFrame(HeadersFrame):
    """A HEADERS frame built by FrameReader: a whole header block, no padding or priority."""

    def __repr__(self):
        return "HeadersFrame(stream_id=%d, %d bytes)" % (self.stream_id, len(self.data))


class QuietWindowUpdateFrame(WindowUpdateFrame):
    """A WINDOW_UPDATE frame built by FrameReader."""

    def __repr__(self):
        return "WindowUpdateFrame(stream_id=%d, +%d)" % (self.stream_id, self.window_increment)


# h2 dispatches on a received frame's class: these take the handler of the class they extend
QUIET_CLASSES = {
    QuietDataFrame: DataFrame,
    QuietHeadersFrame: HeadersFrame,
    QuietWindowUpdateFrame: WindowUpdateFrame,
}

# what h2 asks of a frame's flags is `name in frame.flags`: shared, never changed sets
cdef frozenset _NONE = frozenset()
cdef frozenset _END_STREAM = frozenset(("END_STREAM",))
cdef frozenset _END_HEADERS = frozenset(("END_HEADERS",))
cdef frozenset _END_HEADERS_STREAM = frozenset(("END_HEADERS", "END_STREAM"))

cdef enum:
    _DATA = 0x0
    _HEADERS = 0x1
    _CONTINUATION = 0x9
    _WINDOW_UPDATE = 0x8
    _F_END_STREAM = 0x1
    _F_END_HEADERS = 0x4
    _F_PADDED = 0x8
    _F_PRIORITY = 0x20
    _HEAD = 9  # bytes of a frame header


cdef class FrameReader:
    """Received bytes in (`add_data`), frames out (iteration), as h2's FrameBuffer."""

    cdef bytearray _data
    cdef Py_ssize_t _pos  # where the next frame starts in _data
    cdef list _block  # the frames of a header block still waiting for its END_HEADERS
    cdef public object max_frame_size  # h2 sets it before each iteration

    def __init__(self):
        self._data = bytearray()
        self._pos = 0
        self._block = []
        self.max_frame_size = 0

    def add_data(self, data):
        """Append received bytes."""
        if self._pos:
            del self._data[:self._pos]
            self._pos = 0
        self._data += data

    def __iter__(self):
        return self

    def __next__(self):
        cdef object frame
        while True:
            frame = self._next()
            if frame is not None:
                return frame

    cdef object _next(self):
        """The next frame; None for one kept in a header block; StopIteration if incomplete."""
        cdef Py_ssize_t avail = PyByteArray_GET_SIZE(self._data) - self._pos
        if avail < _HEAD:
            raise StopIteration
        cdef const unsigned char* p = <const unsigned char*> PyByteArray_AS_STRING(self._data)
        p += self._pos
        cdef Py_ssize_t length = (p[0] << 16) | (p[1] << 8) | p[2]
        cdef int kind = p[3]
        cdef int flags = p[4]
        cdef long stream_id = ((p[5] & 0x7F) << 24) | (p[6] << 16) | (p[7] << 8) | p[8]
        if length > self.max_frame_size:
            raise FrameTooLargeError(
                f"Received overlong frame: length {length}, max {self.max_frame_size}")
        if avail < _HEAD + length:
            raise StopIteration
        cdef Py_ssize_t start = self._pos
        self._pos += _HEAD + length
        cdef unsigned long increment
        if not self._block:
            if kind == _DATA and not flags & _F_PADDED:
                frame = QuietDataFrame.__new__(QuietDataFrame)
                frame.stream_id = stream_id
                frame.flags = _END_STREAM if flags & _F_END_STREAM else _NONE
                frame.data = PyBytes_FromStringAndSize(<const char*> p + _HEAD, length)
                frame.pad_length = 0
                frame.body_len = length
                return frame
            if (kind == _HEADERS and flags & _F_END_HEADERS
                    and not flags & (_F_PADDED | _F_PRIORITY)):
                frame = QuietHeadersFrame.__new__(QuietHeadersFrame)
                frame.stream_id = stream_id
                frame.flags = _END_HEADERS_STREAM if flags & _F_END_STREAM else _END_HEADERS
                frame.data = PyBytes_FromStringAndSize(<const char*> p + _HEAD, length)
                frame.pad_length = 0
                frame.depends_on = 0
                frame.stream_weight = 0
                frame.exclusive = False
                frame.body_len = length
                return frame
            if kind == _WINDOW_UPDATE and length == 4:
                increment = ((<unsigned long> p[9] << 24) | (p[10] << 16) | (p[11] << 8)
                             | p[12])
                if 1 <= increment <= 0x7FFFFFFF:
                    frame = QuietWindowUpdateFrame.__new__(QuietWindowUpdateFrame)
                    frame.stream_id = stream_id
                    frame.flags = _NONE
                    frame.window_increment = increment
                    frame.body_len = 4
                    return frame
        return self._in_block(self._parsed(start, length))

    cdef object _parsed(self, Py_ssize_t start, Py_ssize_t length):
        """Any other frame, as hyperframe parses it (its errors as h2's FrameBuffer's)."""
        view = memoryview(self._data)
        try:
            try:
                frame, _ = Frame.parse_frame_header(view[start:start + _HEAD])
            except (InvalidDataError, InvalidFrameError) as err:
                raise ProtocolError(f"Received frame with invalid header: {err!s}") from err
            try:
                frame.parse_body(view[start + _HEAD:start + _HEAD + length])
            except InvalidDataError as err:
                raise ProtocolError("Received frame with non-compliant data") from err
            except InvalidFrameError as err:
                raise FrameDataMissingError("Frame data missing or invalid") from err
        finally:
            view.release()  # _data may be resized by the next add_data
        return frame

    cdef object _in_block(self, frame):
        """h2's header-block rule: a HEADERS or PUSH_PROMISE without END_HEADERS is held, and
        the CONTINUATIONs that must follow it on its stream are joined to it."""
        cdef list block = self._block
        if block:
            if not isinstance(frame, ContinuationFrame) or frame.stream_id != block[0].stream_id:
                raise ProtocolError("Invalid frame during header block.")
            block.append(frame)
            if len(block) > CONTINUATION_LIMIT:
                raise ProtocolError("Too many continuation frames received.")
            if "END_HEADERS" not in frame.flags:
                return None
            first = block[0]
            first.flags.add("END_HEADERS")
            first.data = b"".join([f.data for f in block])
            self._block = []
            return first
        if isinstance(frame, (HeadersFrame, PushPromiseFrame)) and "END_HEADERS" not in frame.flags:
            block.append(frame)
            return None
        return frame


cdef inline void _put_head(unsigned char* p, Py_ssize_t length, int kind, int flags,
                           unsigned long stream_id):
    p[0] = (length >> 16) & 0xFF
    p[1] = (length >> 8) & 0xFF
    p[2] = length & 0xFF
    p[3] = kind
    p[4] = flags
    p[5] = (stream_id >> 24) & 0x7F
    p[6] = (stream_id >> 16) & 0xFF
    p[7] = (stream_id >> 8) & 0xFF
    p[8] = stream_id & 0xFF


def header_block_frames(unsigned long stream_id, bytes block, bint end_stream,
                        Py_ssize_t max_frame_size):
    """The frames of one encoded header block on `stream_id`: a HEADERS frame, then
    CONTINUATION frames of at most `max_frame_size` bytes each, END_HEADERS on the last and
    END_STREAM on the first when `end_stream` (the frames h2's `send_headers` builds)."""
    cdef Py_ssize_t n = len(block), pos = 0, size, k = 0
    cdef Py_ssize_t frames = 1 if n <= max_frame_size else (n + max_frame_size - 1) // max_frame_size
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n + frames * _HEAD)
    cdef unsigned char* o = <unsigned char*> (<char*> out)
    cdef const unsigned char* b = <const unsigned char*> (<char*> block)
    cdef int kind = _HEADERS
    cdef int flags
    while True:
        size = n - pos if n - pos <= max_frame_size else max_frame_size
        flags = _F_END_STREAM if (end_stream and kind == _HEADERS) else 0
        if pos + size == n:
            flags |= _F_END_HEADERS
        _put_head(o + k, size, kind, flags, stream_id)
        memcpy(o + k + _HEAD, b + pos, size)
        k += _HEAD + size
        pos += size
        kind = _CONTINUATION
        if pos >= n:
            return out


def data_frame_head(unsigned long stream_id, Py_ssize_t length, bint end_stream):
    """The 9-byte header of an unpadded DATA frame of `length` bytes on `stream_id`."""
    cdef bytes out = PyBytes_FromStringAndSize(NULL, _HEAD)
    _put_head(<unsigned char*> (<char*> out), length, _DATA,
              _F_END_STREAM if end_stream else 0, stream_id)
    return out
