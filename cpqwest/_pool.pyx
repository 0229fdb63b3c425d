"""Idle connections per origin, for one event loop.

Checkout is a list pop (no locks, no polling, no scans on the hot path); idle eviction runs
from one sweep timer per pool, armed only while something is idle.
"""

cdef class RouteStats:
    pass


cpdef RouteStats opened_on(dict table, object key):
    """Count a new connection on route `key` of `table` (made on first use); its counters."""
    cdef RouteStats stats = table.get(key)
    if stats is None:
        stats = table[key] = RouteStats()
    stats.opened += 1
    return stats


cdef class PooledConnection:
    cpdef void close(self):
        self._count_close(False)

    cdef void _count_close(self, bint error):
        """Mark closed; counted once, on the route's statistics."""
        cdef RouteStats stats = self.stats
        if self.closed:
            return
        self.closed = True
        if stats is not None:
            stats.closed += 1
            if error:
                stats.closed_error += 1


cdef class Pool:
    def __init__(self, loop, idle_timeout, max_idle, stats=None):
        self._loop = loop
        self.stats = {} if stats is None else stats
        self._idle = {}
        self._idle_timeout = -1.0 if idle_timeout is None else float(idle_timeout)
        self._max_idle = -1 if max_idle is None else int(max_idle)
        self._sweep = None
        self.closed = False

    cpdef PooledConnection checkout(self, object key):
        cdef list stack = self._idle.get(key)
        cdef PooledConnection conn
        cdef double now
        if not stack:
            return None
        now = self._loop.time()
        while stack:
            conn = <PooledConnection>stack.pop()
            if conn.closed:
                continue
            if self._idle_timeout >= 0 and now - conn.idle_since >= self._idle_timeout:
                _idle_expired(conn)
                continue
            return conn
        return None

    cpdef void checkin(self, PooledConnection conn):
        cdef list stack
        if self.closed or conn.closed or self._max_idle == 0:
            conn.close()
            return
        stack = self._idle.get(conn.key)
        if stack is None:
            stack = self._idle[conn.key] = []
        elif self._max_idle > 0 and len(stack) >= self._max_idle:
            conn.close()
            return
        conn.idle_since = self._loop.time()
        stack.append(conn)
        if self._sweep is None and self._idle_timeout >= 0:
            self._schedule_sweep()

    cdef void _schedule_sweep(self):
        # half the idle timeout: a connection lives at most 1.5x the timeout unused
        self._sweep = self._loop.call_later(max(self._idle_timeout / 2, 0.05), self._run_sweep)

    def _run_sweep(self):
        cdef double now = self._loop.time()
        cdef list stack
        cdef PooledConnection conn
        cdef bint any_left = False
        self._sweep = None
        for key in list(self._idle):
            stack = self._idle[key]
            keep = []
            for conn in stack:
                if conn.closed:
                    continue
                if now - conn.idle_since >= self._idle_timeout:
                    _idle_expired(conn)
                else:
                    keep.append(conn)
            if keep:
                self._idle[key] = keep
                any_left = True
            else:
                del self._idle[key]
        if any_left and not self.closed:
            self._schedule_sweep()

    def adopt(self, PooledConnection conn):
        """A new connection of this pool: counted as opened on its route."""
        conn.pool = self
        conn.stats = opened_on(self.stats, conn.key)

    def idle_by_key(self):
        """{key: idle connections still open}, for pool statistics."""
        cdef dict out = {}
        cdef Py_ssize_t n
        for key, stack in self._idle.items():
            n = 0
            for c in stack:
                if not (<PooledConnection>c).closed:
                    n += 1
            if n:
                out[key] = n
        return out

    def idle_count(self, key=None):
        """Idle connections that are still open (all keys when key is None); for tests."""
        stacks = self._idle.values() if key is None else [self._idle.get(key, [])]
        return sum(1 for s in stacks for c in s if not (<PooledConnection>c).closed)

    def open_count(self):
        """Open connections the pool holds: the idle ones (a checked-out connection belongs to
        its exchange until checked in)."""
        return self.idle_count()

    def close(self):
        """Close every idle connection; later checkins close theirs."""
        self.closed = True
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        idle, self._idle = self._idle, {}
        for stack in idle.values():
            for conn in stack:
                (<PooledConnection>conn).close()


cdef void _idle_expired(PooledConnection conn):
    """Close an idle connection past the idle timeout (counted as such)."""
    if not conn.closed and conn.stats is not None:
        conn.stats.closed_idle += 1
    conn.close()
