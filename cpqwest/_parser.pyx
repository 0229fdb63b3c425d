"""An HTTP/1.1 response parser over llhttp, usable without asyncio.

The llhttp callbacks copy header bytes into one C buffer; Python objects are made once per
message (the header list at headers-complete) and once per body piece. Exceptions never cross
llhttp's frames: a callback stores one and returns -1, `feed` raises it after `llhttp_execute`.
"""

from cpython.buffer cimport PyBuffer_FillInfo
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.unicode cimport PyUnicode_DecodeLatin1
from libc.string cimport memcmp, memcpy

from cpqwest.llhttp cimport *

from cpqwest._errors import RemoteProtocolError


# Direct reads pay off for bodies larger than a read buffer; the cap bounds what a declared
# Content-Length alone makes us allocate up front (larger bodies grow as they arrive).
cdef size_t DIRECT_MIN = 65536
cdef size_t DIRECT_MAX = 1 << 26


cdef class _Window:
    """A writable buffer over part of a bytes object that nobody else has seen yet."""
    cdef object owner
    cdef char* ptr
    cdef Py_ssize_t size

    def __getbuffer__(self, Py_buffer* buf, int flags):
        PyBuffer_FillInfo(buf, self, self.ptr, self.size, 0, flags)

    def __releasebuffer__(self, Py_buffer* buf):
        pass


cdef llhttp_settings_t _settings
llhttp_settings_init(&_settings)


cdef inline bint _lower_eq(const char* s, const char* lower, size_t n) noexcept:
    cdef size_t i
    cdef char c
    for i in range(n):
        c = s[i]
        if b'A' <= c <= b'Z':
            c += 32
        if c != lower[i]:
            return False
    return True


cdef inline ResponseParser _owner(llhttp_t* p) noexcept:
    return <ResponseParser>p.data


cdef int _on_message_begin(llhttp_t* p) noexcept:
    cdef ResponseParser self = _owner(p)
    self._len = 0
    self._nfields = 0
    self._line_start = 0
    self._reason_len = 0
    self._head_bytes = 0
    self._field_start = True
    return 0


cdef int _on_status(llhttp_t* p, const char* at, size_t n) noexcept:
    cdef ResponseParser self = _owner(p)
    self._reason_len += n
    if self._reason_len > MAX_LINE_BYTES:
        return self._fail("status line longer than 65536 bytes")
    return self._append(at, n, APPEND_RAW)


cdef int _on_header_field(llhttp_t* p, const char* at, size_t n) noexcept:
    cdef ResponseParser self = _owner(p)
    cdef char prev
    if self._field_start:
        # Lenient mode (kept for obs-fold) lets llhttp take " name:" right after the start line
        # as a field; RFC 9112 §2.2 says reject it (other parsers ignore such a line). Noted
        # here, reported once llhttp has checked the whole name (same error for any split).
        self._field_start = False
        prev = (at - 1)[0] if at != self._data else self._last_byte
        self._ws_before_field = prev == b' ' or prev == b'\t'
    return self._append(at, n, APPEND_NAME)


cdef int _on_header_field_complete(llhttp_t* p) noexcept:
    cdef ResponseParser self = _owner(p)
    cdef char last = self._buf[self._len - 1] if self._len else 0
    if self._ws_before_field:
        return self._fail("whitespace before a header field name")
    # lenient mode also accepts "name :"; RFC 9112 §5.1 forbids it (smuggling shape)
    if last == b' ' or last == b'\t':
        return self._fail("whitespace between a header field name and the colon")
    self._marks[2 * self._nfields] = self._len
    return 0


cdef int _on_header_value(llhttp_t* p, const char* at, size_t n) noexcept:
    return _owner(p)._append(at, n, APPEND_VALUE)


cdef int _on_header_value_complete(llhttp_t* p) noexcept:
    cdef ResponseParser self = _owner(p)
    cdef size_t end = self._len
    cdef size_t start = self._marks[2 * self._nfields]
    # trailing whitespace is not part of the value (RFC 9110 §5.5)
    while end > start and (self._buf[end - 1] == b' ' or self._buf[end - 1] == b'\t'):
        end -= 1
    self._len = end
    self._marks[2 * self._nfields + 1] = end
    self._nfields += 1
    self._line_start = end
    self._field_start = True
    if self._nfields > MAX_HEADER_FIELDS:
        return self._fail("more than 100 header fields")
    return 0


cdef int _on_headers_complete(llhttp_t* p) noexcept:
    cdef ResponseParser self = _owner(p)
    cdef int status = p.status_code
    if status < 200:
        if status == 101:
            return self._fail("unexpected 101 Switching Protocols: upgrades are not supported")
        # 1xx informational responses are skipped; llhttp ends them without a body
        self._informational = True
        return 0
    try:
        self.status = status
        self.http_minor = p.http_minor
        self.reason = PyBytes_FromStringAndSize(self._buf, self._reason_len)
        self.headers = self._build_fields()
        self.notable = self._notable
    except BaseException as exc:
        self._error = exc
        return -1
    if (p.flags & F_TRANSFER_ENCODING) and self._te_chunked() != ((p.flags & F_CHUNKED) != 0):
        # the header list and llhttp's framing disagree (e.g. an obs-fold inside the field)
        return self._fail("ambiguous Transfer-Encoding: cannot tell whether the body is chunked")
    self._len = 0
    self._nfields = 0
    self._line_start = 0
    self._field_start = True
    self.head_done = True
    if self._no_body:
        return 1
    if (self._collect and (p.flags & F_CONTENT_LENGTH) and not (p.flags & F_CHUNKED)
            and DIRECT_MIN <= p.content_length <= DIRECT_MAX):
        try:
            self._whole = PyBytes_FromStringAndSize(NULL, p.content_length)
        except BaseException as exc:
            self._error = exc
            return -1
        self._whole_len = p.content_length
        self._filled = 0
        # known now, from the head; the message may end outside llhttp (direct_filled)
        self.keep_alive = llhttp_should_keep_alive(p)
    return 0


cdef int _on_body(llhttp_t* p, const char* at, size_t n) noexcept:
    cdef ResponseParser self = _owner(p)
    if self._whole is not None:
        memcpy(PyBytes_AS_STRING(self._whole) + self._filled, at, n)
        self._filled += n
        return 0
    try:
        self.body.append(PyBytes_FromStringAndSize(at, n))
    except BaseException as exc:
        self._error = exc
        return -1
    self.body_size += n
    return 0


cdef int _on_message_complete(llhttp_t* p) noexcept:
    cdef ResponseParser self = _owner(p)
    if self._informational:
        self._informational = False
        return 0
    if self._nfields:
        try:
            self.trailers = self._build_fields()
        except BaseException as exc:
            self._error = exc
            return -1
    self.keep_alive = llhttp_should_keep_alive(p)
    self.message_done = True
    # stop here: whatever follows belongs to no request of ours
    return HPE_PAUSED


_settings.on_message_begin = _on_message_begin
_settings.on_status = _on_status
_settings.on_header_field = _on_header_field
_settings.on_header_field_complete = _on_header_field_complete
_settings.on_header_value = _on_header_value
_settings.on_header_value_complete = _on_header_value_complete
_settings.on_headers_complete = _on_headers_complete
_settings.on_body = _on_body
_settings.on_message_complete = _on_message_complete


cdef class ResponseParser:
    """Parses one response at a time; `reset` before each request."""

    def __cinit__(self):
        self._cap = 4096
        self._buf = <char*>PyMem_Malloc(self._cap)
        if self._buf == NULL:
            raise MemoryError()
        self.reset(False)

    def __dealloc__(self):
        PyMem_Free(self._buf)

    cpdef void reset(self, bint head_request, bint collect=False):
        llhttp_init(&self._p, HTTP_RESPONSE, &_settings)
        self._p.data = <void*>self
        # Lenient header parsing only so that obs-fold is unfolded (spec §0); the value checks
        # it turns off (NUL, DEL, other controls) are done in _append instead.
        llhttp_set_lenient_headers(&self._p, 1)
        self._no_body = head_request
        self._collect = collect
        self._whole = None
        self._whole_len = 0
        self._filled = 0
        self._len = 0
        self._nfields = 0
        self._line_start = 0
        self._head_bytes = 0
        self._reason_len = 0
        self._informational = False
        self._field_start = True
        self._ws_before_field = False
        self._data = NULL
        self._last_byte = 0
        self._error = None
        self._started = False
        self.status = 0
        self.http_minor = 1
        self.reason = None
        self.headers = None
        self.notable = 0
        self.trailers = None
        self.body = []
        self.body_size = 0
        self.head_done = False
        self.message_done = False
        self.keep_alive = False
        self.trailing_data = False

    cdef int _append(self, const char* at, size_t n, int mode) noexcept:
        cdef size_t need = self._len + n
        cdef size_t i
        cdef char c
        cdef char* dst
        self._head_bytes += n
        if self._head_bytes > MAX_HEAD_BYTES:
            return self._fail("response head larger than 262144 bytes")
        if need - self._line_start > MAX_LINE_BYTES:
            return self._fail("header line longer than 65536 bytes")
        if need > self._cap:
            while self._cap < need:
                self._cap *= 2
            dst = <char*>PyMem_Realloc(self._buf, self._cap)
            if dst == NULL:
                return self._fail("out of memory")
            self._buf = dst
        dst = self._buf + self._len
        if mode == APPEND_NAME:
            for i in range(n):
                c = at[i]
                dst[i] = c + 32 if b'A' <= c <= b'Z' else c
        else:
            if mode == APPEND_VALUE:
                for i in range(n):
                    c = at[i]
                    if (c < 32 and c != 9 and c >= 0) or c == 127:
                        return self._fail("invalid character %r in a header value" % chr(c))
            memcpy(dst, at, n)
        self._len = need
        return 0

    cdef int _fail(self, str message) noexcept:
        try:
            self._error = RemoteProtocolError(message)
        except BaseException as exc:
            self._error = exc
        return -1

    cdef bint _te_chunked(self):
        """Whether the last coding of the last Transfer-Encoding field is chunked, read from the
        header list being built (not yet reset for the body)."""
        cdef int i
        cdef size_t start = self._reason_len
        cdef size_t name_end, value_end, a, b
        cdef bint chunked = False
        cdef char c
        for i in range(self._nfields):
            name_end = self._marks[2 * i]
            value_end = self._marks[2 * i + 1]
            if name_end - start == 17 and memcmp(self._buf + start, b"transfer-encoding", 17) == 0:
                b = value_end
                while b > name_end and (self._buf[b - 1] == b' ' or self._buf[b - 1] == b'\t'
                                        or self._buf[b - 1] == b','):
                    b -= 1
                a = b
                while a > name_end:
                    c = self._buf[a - 1]
                    if c == b' ' or c == b'\t' or c == b',':
                        break
                    a -= 1
                chunked = b - a == 7 and _lower_eq(self._buf + a, b"chunked", 7)
            start = value_end
        return chunked

    cdef list _build_fields(self):
        cdef list out = []
        cdef int i
        cdef size_t start = self._reason_len if not self.head_done else 0
        cdef size_t name_end, value_end
        cdef int notable = 0
        cdef size_t n
        for i in range(self._nfields):
            name_end = self._marks[2 * i]
            value_end = self._marks[2 * i + 1]
            n = name_end - start
            if n == 16 and memcmp(self._buf + start, b"content-encoding", 16) == 0:
                notable |= N_CONTENT_ENCODING
            elif n == 8 and memcmp(self._buf + start, b"location", 8) == 0:
                notable |= N_LOCATION
            elif n == 10 and memcmp(self._buf + start, b"set-cookie", 10) == 0:
                notable |= N_SET_COOKIE
            out.append((PyUnicode_DecodeLatin1(self._buf + start, name_end - start, NULL),
                        PyUnicode_DecodeLatin1(self._buf + name_end, value_end - name_end, NULL)))
            start = value_end
        self._notable = notable
        return out

    cdef int feed(self, const char* data, size_t n) except -1:
        """Parse `n` bytes. Returns 1 once the message is complete, else 0."""
        cdef llhttp_errno_t err
        cdef object exc
        if self.message_done:
            if n:
                self.trailing_data = True
            return 1
        self._started = True
        self._data = data
        err = llhttp_execute(&self._p, data, n)
        self._data = NULL
        if n:
            self._last_byte = data[n - 1]
        if err == HPE_OK:
            return 0
        if err == HPE_PAUSED:
            if llhttp_get_error_pos(&self._p) != data + n:
                self.trailing_data = True
            return 1
        exc = self._error
        if exc is not None:
            self._error = None
            raise exc
        raise RemoteProtocolError(
            "invalid HTTP response: %s (%s)" % (
                llhttp_get_error_reason(&self._p).decode("latin-1"),
                llhttp_errno_name(err).decode("latin-1")))

    cdef int feed_eof(self) except -1:
        """The peer closed cleanly. Returns 1 if that completed the message, 0 if no byte of a
        response had arrived; raises RemoteProtocolError for a truncated message."""
        cdef llhttp_errno_t err
        if self.message_done:
            return 1
        if not self._started:
            return 0
        err = llhttp_finish(&self._p)
        if self.message_done:
            return 1
        if err == HPE_OK and not self.head_done and self._len == 0 and self._reason_len == 0 \
                and self._p.status_code == 0:
            return 0
        raise RemoteProtocolError(
            "connection closed before the response was complete"
            if self.head_done else "connection closed before the response head was complete")

    cdef bint direct_pending(self):
        return self._whole is not None and self._filled < self._whole_len and not self.message_done

    cdef object direct_window(self):
        """A writable view of the unfilled rest of the body."""
        cdef _Window w = _Window.__new__(_Window)
        w.owner = self._whole
        w.ptr = PyBytes_AS_STRING(self._whole) + self._filled
        w.size = self._whole_len - self._filled
        return memoryview(w)

    cdef int direct_filled(self, size_t n) except -1:
        """`n` body bytes were read into the window. Returns 1 when the body is complete."""
        self._filled += n
        if self._filled < self._whole_len:
            return 0
        self.message_done = True
        return 1

    cpdef bytes take_body(self):
        """The parsed body pieces joined; clears them."""
        cdef list body = self.body
        cdef bytes out
        if self._whole is not None:
            out = self._whole
            self._whole = None
            return out
        if not body:
            return b""
        out = body[0] if len(body) == 1 else b"".join(body)
        self.body = []
        self.body_size = 0
        return out

    # Python entry points, for the sync client, tests and fuzzing
    def feed_data(self, data) -> bool:
        cdef const unsigned char[:] view = data
        if view.shape[0] == 0:
            return self.feed(b"", 0) == 1
        return self.feed(<const char*>&view[0], view.shape[0]) == 1

    def feed_eof_py(self) -> bool:
        return self.feed_eof() == 1


# the `notable` bits, for Python callers
HAS_CONTENT_ENCODING = N_CONTENT_ENCODING
HAS_LOCATION = N_LOCATION
HAS_SET_COOKIE = N_SET_COOKIE
