from cpqwest._parser cimport ResponseParser
from cpqwest._pool cimport PooledConnection
from cpqwest._stamps cimport Stamps

# H1Core.phase: where one exchange on the connection is. FAILED and DONE are final until the
# next `begin`; only a DONE exchange can leave its connection reusable.
cdef enum Phase:
    IDLE = 0          # no request in flight (new, or back in a pool)
    SENDING = 1       # the request (a streamed body) is being written; no response head yet
    AWAIT_HEAD = 2    # the request is written; the response head has not come
    BODY = 3          # the head came; its body is arriving
    DONE = 4          # the response is complete
    FAILED = 5        # the exchange failed: the connection is closed for good

# H1Core.feed's events
cdef enum:
    FED_MORE = 0      # nothing new for the driver: read on
    FED_HEAD = 1      # the response head is complete (this read or an earlier one)
    FED_DONE = 2      # the response is complete


# The bytes a driver reads into, one per thread (H1Core.read_buffer).
cdef class ReadBuffer:
    cdef bytearray buf
    cdef readonly object view     # a memoryview of buf: asyncio's SSL reader slices it
    cdef char* data


cdef class H1Core(PooledConnection):
    cdef readonly ResponseParser parser
    cdef readonly int phase
    cdef bint _buffered               # the body is read whole (its errors read "full content")
    cdef public bint close_after      # the request said `Connection: close`
    cdef readonly bint request_sent   # the whole request was written
    cdef readonly bint got_bytes      # a response byte arrived for this request
    cdef readonly object error        # the failure that ended this connection, or None
    cdef public Stamps stamps         # this exchange's clock readings (response.timings)
    cdef public object setup          # (dns, connect, tls) until the first exchange takes it
    cdef ReadBuffer _rbuf             # the read buffer of the thread that last read
    cdef unsigned long _rbuf_thread

    cdef ReadBuffer read_buffer(self)
    cdef void begin(self, bint head_request, bint buffered, bint body_follows)
    cdef int feed(self, const char* data, size_t n) except -1
    cdef int feed_eof(self, bint tls) except -1
    cdef void sent(self)
    cdef void _done(self)
    cdef void new_stamps(self, double start)
    cdef bint fail(self, object exc)
    cpdef bint reusable(self)
    cdef object head_error(self, object cause)
    cdef object read_error(self, object cause)
    cdef object write_error(self, object cause)


cdef class BodyFramer:
    cdef bint _chunked
    cdef Py_ssize_t _length
    cdef Py_ssize_t _sent
    cpdef object frame(self, object chunk)
    cpdef bytes finish(self)


cpdef bytes frame_chunk(object data)
