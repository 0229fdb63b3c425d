cdef class RouteStats:
    """The counters of one route (origin, proxy) and HTTP version: increments only."""
    cdef public long long opened          # connections established
    cdef public long long reused          # requests on a connection that had served before
    cdef public long long closed          # connections closed, for any reason
    cdef public long long closed_error    # ... of them by a failure
    cdef public long long closed_idle     # ... of them by the idle timeout


cdef class PooledConnection:
    """What the pool needs of a connection (HTTP/1.1 now; any protocol that is checked out
    exclusively later)."""
    cdef public object key
    cdef public object pool      # its Pool (async) or SyncPool (blocking), None when unpooled
    cdef public double idle_since
    cdef public bint closed
    cdef public bint reused     # served a request before: a failure may be a stale socket
    cdef public RouteStats stats    # its route's counters (pool statistics), None: untracked

    cpdef void close(self)
    cdef void _count_close(self, bint error)


cdef class Pool:
    cdef object _loop
    cdef dict _idle               # key -> list of idle connections, most recent last (LIFO)
    cdef double _idle_timeout     # seconds; < 0: never evict
    cdef Py_ssize_t _max_idle     # per key; < 0: no cap
    cdef object _sweep            # TimerHandle of the idle sweep, or None
    cdef readonly bint closed
    cdef readonly dict stats      # key -> RouteStats, shared by the pools of all loops

    cpdef PooledConnection checkout(self, object key)
    cpdef void checkin(self, PooledConnection conn)
    cdef void _schedule_sweep(self)
