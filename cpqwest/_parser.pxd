from cpqwest.llhttp cimport llhttp_t

# Response head limits (spec §0): over any of them -> RemoteProtocolError naming the limit.
cdef enum:
    APPEND_RAW = 0
    APPEND_NAME = 1
    APPEND_VALUE = 2

# `ResponseParser.notable`: header fields present that the transport acts on
cdef enum:
    N_CONTENT_ENCODING = 1
    N_LOCATION = 2
    N_SET_COOKIE = 4

# `ResponseParser._scan`: where the head scanner is (RFC 9112 §2.2 line structure)
cdef enum:
    H_PRE = 0         # before the status line (llhttp skips empty lines there)
    H_STATUS = 1      # in the status line
    H_STATUS_CR = 2   # a CR in the status line
    H_FIRST = 3       # at the start of the line after the status line
    H_START = 4       # at the start of a line after a field line
    H_LINE = 5        # in a field line
    H_CR = 6          # a CR in a field line
    H_END_CR = 7      # a CR at a line start: the head's last line
    H_DONE = 8        # the head ended: nothing to scan
    H_ERROR = 9       # the head is malformed (`_scan_error`)

cdef enum:
    MAX_HEADER_FIELDS = 100
    MAX_LINE_BYTES = 65536
    MAX_HEAD_BYTES = 262144


cdef class ResponseParser:
    cdef llhttp_t _p
    # Raw bytes of the header (or trailer) section being parsed: lower-cased names and values back
    # to back; _marks holds, per field, the end offset of its name and of its value.
    cdef char* _buf
    cdef size_t _len
    cdef size_t _cap
    cdef size_t _marks[2 * MAX_HEADER_FIELDS + 2]
    cdef int _nfields
    cdef size_t _line_start
    cdef size_t _head_bytes
    cdef size_t _reason_len
    cdef bint _informational
    cdef int _scan                    # head scanner state (H_*)
    cdef int _scan_fields             # field lines the scanner has seen in this head
    cdef str _scan_error
    cdef bint _any_fold               # an obs-fold in this head (`_folded` marks its fields)
    cdef bint _head_parsed            # llhttp finished a head since the scanner found its end
    cdef unsigned char _folded[MAX_HEADER_FIELDS + 2]
    cdef int _notable
    cdef object _error

    # results of the message being parsed
    cdef readonly int status
    cdef readonly int http_minor
    cdef readonly bytes reason
    cdef readonly list headers        # [(name, value)], names lower-case, latin-1 text
    cdef readonly int notable         # Notable bits of `headers`
    cdef readonly list trailers       # same shape, or None
    cdef readonly list body           # body chunks parsed and not yet taken
    cdef readonly Py_ssize_t body_size  # bytes in `body`
    cdef readonly bint head_done
    cdef readonly bint message_done
    cdef readonly bint keep_alive
    cdef readonly bint trailing_data  # bytes arrived after the message: the connection is unusable
    cdef bint _no_body                # HEAD request: the response has no body whatever it says
    cdef bint _must_close             # HTTP/1.0 with Transfer-Encoding (RFC 9112 §6.1)
    cdef bint _started                # any byte of this message was fed

    # Buffered responses with a large Content-Length are read straight into their final bytes
    # object (`_whole`): llhttp parses the head, then the protocol reads the rest of the body
    # but its last byte into `direct_window()` with no intermediate copies; llhttp parses that
    # byte (and sees whatever follows it), so it alone ends messages.
    cdef bint _collect
    cdef bytes _whole
    cdef size_t _whole_len
    cdef size_t _filled

    cpdef void reset(self, bint head_request, bint collect=*)
    cdef bint direct_pending(self)
    cdef object direct_window(self)
    cdef void direct_filled(self, size_t n)
    cdef int feed(self, const char* data, size_t n) except -1
    cdef int feed_eof(self) except -1
    cpdef bytes take_body(self)

    # llhttp callbacks (plain C; they store an exception and return -1 on error)
    cdef int _append(self, const char* at, size_t n, int mode) noexcept
    cdef int _fail(self, str message) noexcept
    cdef size_t _scan_head(self, const char* data, size_t n)
    cdef size_t _scan_fault(self, size_t at, str why)
    cdef void _mark_fold(self)
    cdef int _check_folds(self) noexcept
    cdef bint _name_is(self, int field, const char* lower, size_t n) noexcept
    cdef list _build_fields(self)
    cdef bint _te_chunked(self)
