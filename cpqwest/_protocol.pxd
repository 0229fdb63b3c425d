from cpqwest._h1 cimport H1Core


cdef class H1Connection(H1Core):
    cdef object _loop
    cdef readonly object transport
    cdef object _waiter          # head (streaming) or whole message (buffered)
    cdef object _body_waiter     # next body piece (streaming)
    cdef object _drain_waiter
    cdef bint _direct             # reading the body straight into parser.direct_window()
    cdef bint _reading_paused
    cdef bint _writing_paused
    cdef object _deadline_timer
    cdef object _read_timer
    cdef double _read_timeout
    cdef double _last_read
    cdef public object upload_task

    cdef object start(self, bytes data, bint head_request, bint buffered, bint body_follows,
                      object timeout, object read_timeout)
    cdef void _on_data(self, const char* data, size_t n)
    cdef void _direct_updated(self, Py_ssize_t nbytes)
    cdef void _message_complete(self)
    cdef bint _in_flight(self)
    cdef object _salvage(self, object exc)
    cdef void _fail(self, object exc)
    cdef void _wake(self, object exc)
    cdef void _cancel_timers(self)
    cpdef object take_chunk(self)
    cpdef object wait_chunk(self)
    cpdef void release(self)
    cpdef void abort(self, object exc=*)
