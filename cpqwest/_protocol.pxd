from cpqwest._parser cimport ResponseParser
from cpqwest._pool cimport PooledConnection
from cpqwest._stamps cimport Stamps


cdef class H1Connection(PooledConnection):
    cdef object _loop
    cdef readonly object transport
    cdef readonly ResponseParser parser
    cdef bytearray _rbuf
    cdef object _rview
    cdef object _waiter          # head (streaming) or whole message (buffered)
    cdef object _body_waiter     # next body piece (streaming)
    cdef object _drain_waiter
    cdef bint _buffered
    cdef bint _direct             # reading the body straight into parser.direct_window()
    cdef public bint close_after      # the request said `Connection: close`
    cdef bint _active            # a request is in flight
    cdef bint _reading_paused
    cdef bint _writing_paused
    cdef readonly bint request_sent   # the whole request was written
    cdef readonly bint got_bytes      # a response byte arrived for this request
    cdef readonly object error        # the failure that ended this connection, or None
    cdef object _deadline_timer
    cdef object _read_timer
    cdef double _read_timeout
    cdef double _last_read
    cdef public object upload_task
    cdef public Stamps stamps         # this exchange's clock readings (response.timings)
    cdef public object setup          # (dns, connect, tls) until the first exchange takes it

    cdef object start(self, bytes data, bint head_request, bint buffered, bint body_follows,
                      object timeout, object read_timeout)
    cdef void _on_data(self, const char* data, size_t n)
    cdef void _direct_updated(self, Py_ssize_t nbytes)
    cdef void _message_complete(self)
    cdef void _fail(self, object exc)
    cdef void _wake(self, object exc)
    cdef void _cancel_timers(self)
    cpdef object take_chunk(self)
    cpdef object wait_chunk(self)
    cpdef void release(self)
    cpdef void abort(self, object exc=*)
