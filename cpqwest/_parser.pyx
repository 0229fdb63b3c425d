"""An HTTP/1.1 response parser over llhttp, usable without asyncio.

The llhttp callbacks copy header bytes into one C buffer; Python objects are made once per
message (the header list at headers-complete) and once per body piece. Exceptions never cross
llhttp's frames: a callback stores one and returns -1, `feed` raises it after `llhttp_execute`.
"""

from cpython.buffer cimport PyBuffer_FillInfo
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.unicode cimport PyUnicode_DecodeLatin1
from libc.string cimport memchr, memcmp, memcpy, memset

from cpqwest.llhttp cimport *

from cpqwest._errors import RemoteProtocolError


# Direct reads pay off for bodies larger than a read buffer; the cap bounds what a declared
# Content-Length alone makes us allocate up front (larger bodies grow as they arrive).
cdef size_t DIRECT_MIN = 65536
cdef size_t DIRECT_MAX = 1 << 26
# The last body byte of a direct read goes through llhttp in an ordinary read: that read also
# takes whatever follows the body, so stray bytes are seen like on every other read path.
cdef size_t DIRECT_TAIL = 1


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
    return 0


cdef int _on_status(llhttp_t* p, const char* at, size_t n) noexcept:
    cdef ResponseParser self = _owner(p)
    self._reason_len += n
    if self._reason_len > MAX_LINE_BYTES:
        return self._fail("status line longer than 65536 bytes")
    return self._append(at, n, APPEND_RAW)


cdef int _on_header_field(llhttp_t* p, const char* at, size_t n) noexcept:
    return _owner(p)._append(at, n, APPEND_NAME)


cdef int _on_header_field_complete(llhttp_t* p) noexcept:
    cdef ResponseParser self = _owner(p)
    cdef char last = self._buf[self._len - 1] if self._len else 0
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
    if self._nfields > MAX_HEADER_FIELDS:
        return self._fail("more than 100 header fields")
    return 0


cdef int _on_headers_complete(llhttp_t* p) noexcept:
    cdef ResponseParser self = _owner(p)
    cdef int status = p.status_code
    self._head_parsed = True
    if self._any_fold and self._check_folds() < 0:
        return -1
    if status < 200:
        if status < 100:
            # not an informational response (RFC 9110 §15: the first digit is its class)
            return self._fail("invalid status code %03d" % status)
        if status == 101:
            return self._fail("unexpected 101 Switching Protocols: upgrades are not supported")
        # 1xx informational responses are skipped; they have no content whatever they say
        self._informational = True
        return 1
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
    # RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing: read it,
    # then close the connection
    self._must_close = p.http_major == 1 and p.http_minor == 0 and (p.flags & F_TRANSFER_ENCODING)
    self._len = 0
    self._nfields = 0
    self._line_start = 0
    self.head_done = True
    # RFC 9110 §6.4.1: no content after HEAD, 204 or 304, whatever the header fields say
    if self._no_body or status == 204 or status == 304:
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
    self.keep_alive = llhttp_should_keep_alive(p) and not self._must_close
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
        self._must_close = False
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
        self._scan = H_PRE
        self._scan_error = None
        self._scan_fields = 0
        self._any_fold = False
        self._head_parsed = False
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
        cdef size_t k
        if self.message_done:
            if n:
                self.trailing_data = True
            return 1
        self._started = True
        while True:
            # a head goes to llhttp only as far as the scanner has checked it
            k = n if self._scan == H_DONE else self._scan_head(data, n)
            err = llhttp_execute(&self._p, data, k)
            if err == HPE_PAUSED:
                if k < n or llhttp_get_error_pos(&self._p) != data + k:
                    self.trailing_data = True
                return 1
            if err != HPE_OK:
                break
            if self._scan == H_ERROR:
                # llhttp took the head up to the offending byte: the first error in the
                # stream is reported, however the bytes were split
                raise RemoteProtocolError("invalid HTTP response: " + self._scan_error)
            if self._scan == H_DONE and not self.head_done:
                if not self._head_parsed:
                    # the scanner and llhttp disagree on where the head ends
                    raise RemoteProtocolError("invalid HTTP response: malformed response head")
                # an informational response ended: the next head is scanned again
                self._scan = H_PRE
                self._scan_fields = 0
                self._head_parsed = False
            if k == n:
                return 0
            data += k
            n -= k
        exc = self._error
        if exc is not None:
            self._error = None
            raise exc
        raise RemoteProtocolError(
            "invalid HTTP response: %s (%s)" % (
                llhttp_get_error_reason(&self._p).decode("latin-1"),
                llhttp_errno_name(err).decode("latin-1")))

    cdef size_t _scan_head(self, const char* data, size_t n):
        """Check the line structure of the head in `data` (RFC 9112 §2.2, §5.2) before llhttp,
        whose lenient mode (kept for obs-fold) would let framing tricks through: a bare CR, or
        whitespace right after the status line, ends a line or the head there. Returns how
        many bytes belong to the head (all `n` while it goes on); at a fault, the bytes before
        the offending one (state H_ERROR, `_scan_error` says why). Lines end at CRLF only: a
        bare LF is left to llhttp, which refuses it."""
        cdef int state = self._scan
        cdef size_t i = 0
        cdef const char* cr
        cdef char c
        if state == H_ERROR:
            return 0
        while i < n:
            if state == H_LINE or state == H_STATUS:
                # inside a line only a CR matters: memchr finds it at memory speed
                cr = <const char*>memchr(data + i, b'\r', n - i)
                if cr == NULL:
                    break
                i = cr - data + 1
                state = H_CR if state == H_LINE else H_STATUS_CR
                continue
            c = data[i]
            i += 1
            if state == H_START or state == H_FIRST:
                if c == b' ' or c == b'\t':
                    if state == H_FIRST:
                        return self._scan_fault(i - 1, "whitespace before a header field name")
                    # obs-fold: unfolded by llhttp; its field is checked at headers-complete
                    self._mark_fold()
                    state = H_LINE
                elif c == b'\r':
                    state = H_END_CR
                else:
                    self._scan_fields += 1
                    state = H_LINE
            elif state == H_CR or state == H_STATUS_CR or state == H_END_CR:
                if c != b'\n':
                    return self._scan_fault(i - 1, "bare CR in the response head")
                if state == H_END_CR:
                    state = H_DONE
                    break
                state = H_START if state == H_CR else H_FIRST
            elif c != b'\r' and c != b'\n':   # H_PRE: llhttp skips empty lines here
                state = H_STATUS
        self._scan = state
        return i if state == H_DONE else n

    cdef size_t _scan_fault(self, size_t at, str why):
        self._scan = H_ERROR
        self._scan_error = why
        return at

    cdef void _mark_fold(self):
        cdef int field = self._scan_fields - 1
        if not self._any_fold:
            memset(self._folded, 0, sizeof(self._folded))
            self._any_fold = True
        if field < MAX_HEADER_FIELDS + 2:
            self._folded[field] = 1

    cdef int _check_folds(self) noexcept:
        """obs-fold may not touch the fields that frame the message (RFC 9112 §5.2 allows
        unfolding; for these an unfolded value could frame differently elsewhere)."""
        cdef int i
        self._any_fold = False
        for i in range(min(self._nfields, MAX_HEADER_FIELDS + 2)):
            if self._folded[i] and (self._name_is(i, b"content-length", 14)
                                    or self._name_is(i, b"transfer-encoding", 17)):
                return self._fail("obs-fold in a Content-Length or Transfer-Encoding field")
        return 0

    cdef bint _name_is(self, int field, const char* lower, size_t n) noexcept:
        """Whether header field `field` of the head being built is named `lower`."""
        cdef size_t start = self._reason_len if field == 0 else self._marks[2 * field - 1]
        return self._marks[2 * field] - start == n and memcmp(self._buf + start, lower, n) == 0

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
        return self._whole is not None and self._p.content_length > DIRECT_TAIL

    cdef object direct_window(self):
        """A writable view of the body bytes still to come, but the last (DIRECT_TAIL)."""
        cdef _Window w = _Window.__new__(_Window)
        w.owner = self._whole
        w.ptr = PyBytes_AS_STRING(self._whole) + self._filled
        w.size = self._p.content_length - DIRECT_TAIL
        return memoryview(w)

    cdef void direct_filled(self, size_t n):
        """`n` body bytes were read into the window: llhttp counts them as parsed."""
        self._filled += n
        self._p.content_length -= n

    cpdef bytes take_body(self):
        """The parsed body pieces joined; clears them. Only bytes the server sent: a direct
        body that did not complete gives its filled part."""
        cdef list body = self.body
        cdef bytes out
        if self._whole is not None:
            out = self._whole
            self._whole = None
            if self._filled < self._whole_len:
                return out[:self._filled]
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

    def read_direct(self, data) -> int:
        """What the protocol does on a direct read: copy the start of `data` into the
        direct window. Returns how many bytes it took (0 when no direct read is pending)."""
        if not self.direct_pending():
            return 0
        window = self.direct_window()
        n = min(len(data), len(window))
        window[:n] = data[:n]
        self.direct_filled(n)
        return n


def set_direct_min(size_t n) -> int:
    """Set the smallest Content-Length read directly (fuzzing and tests reach the direct
    path with small inputs); returns the previous value."""
    global DIRECT_MIN
    old = DIRECT_MIN
    DIRECT_MIN = n
    return old


# the `notable` bits, for Python callers
HAS_CONTENT_ENCODING = N_CONTENT_ENCODING
HAS_LOCATION = N_LOCATION
HAS_SET_COOKIE = N_SET_COOKIE
