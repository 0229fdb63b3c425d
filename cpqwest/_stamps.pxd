cdef double now() noexcept nogil


cdef class Stamps:
    """The clock readings of one exchange (CLOCK_MONOTONIC seconds, 0.0: not reached)."""
    cdef public double start         # the exchange began (before checkout or connect)
    cdef public double sent          # the whole request was written
    cdef public double first         # the first response byte arrived
    cdef public double done          # the response's last byte arrived
    cdef public object setup         # (dns, connect, tls) of a new connection, or None: reused


cdef Stamps new_stamps(double start, object setup)
