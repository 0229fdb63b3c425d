"""One HTTP/1.1 request/response exchange on a pooled connection.

`H1Pools` owns the per-event-loop pools of one transport. `exchange` checks a connection out
(or has the transport's connector open one), writes the request, pumps a streamed body, and
retries once on a fresh connection when a reused one turns out to have been closed by the peer
before answering.
"""

import asyncio
from time import monotonic

from cpython.bytes cimport PyBytes_GET_SIZE

from cpqwest._h1 cimport BodyFramer, frame_chunk
from cpqwest._pool cimport Pool
from cpqwest._protocol cimport H1Connection
from cpqwest._stamps cimport now

from cpqwest._errors import body_error, write_error

cdef object _get_running_loop = asyncio.get_running_loop
cdef object CancelledError = asyncio.CancelledError
cdef object _monotonic = monotonic

# A bytes body up to this size is joined to the head: one write, one syscall.
cdef Py_ssize_t JOIN_BODY_MAX = 65536


cdef class H1Pools:
    """The HTTP/1.1 pools of one transport: one Pool per running event loop."""
    cdef object _connect           # async (loop, key, pool, deadline) -> H1Connection
    cdef object _idle_timeout
    cdef object _max_idle
    # (loop, pool) of the last lookup, as one object: threads running their own loops on one
    # transport always read a matching pair
    cdef tuple _last
    cdef dict _pools
    cdef readonly dict stats       # key -> RouteStats, across loops (pool statistics)
    cdef public object read_timeout

    def __init__(self, connect, idle_timeout, max_idle, read_timeout):
        self._connect = connect
        self._idle_timeout = idle_timeout
        self._max_idle = max_idle
        self._pools = {}
        self.stats = {}
        self.read_timeout = read_timeout

    cdef Pool pool_for(self, object loop):
        cdef tuple last = self._last
        if last is not None and last[0] is loop:
            return <Pool>last[1]
        pool = self._pools.get(loop)
        if pool is None:
            # a pool never outlives its loop: drop those of closed loops
            for old in [l for l in self._pools if l.is_closed()]:
                self._pools.pop(old).close()
            pool = self._pools[loop] = Pool(loop, self._idle_timeout, self._max_idle,
                                            self.stats)
        self._last = (loop, pool)
        return pool

    def current_pool(self):
        return self.pool_for(_get_running_loop())

    def idle_by_key(self):
        """{key: idle connections} over the pools of every loop (pool statistics)."""
        cdef dict out = {}
        for pool in list(self._pools.values()):
            for key, n in (<Pool>pool).idle_by_key().items():
                out[key] = out.get(key, 0) + n
        return out

    def detach(self):
        """Take every pool out ({loop: Pool}): later requests get new ones."""
        pools, self._pools = self._pools, {}
        self._last = None
        return pools

    def close(self):
        for loop, pool in self.detach().items():
            if loop.is_closed():
                continue
            pool.close()

    async def exchange(self, key, bytes head, body, bint head_request, bint buffered,
                       bint replayable, bint chunked, bint close_after=False,
                       Py_ssize_t length=-1, deadline=None):
        """Send one request. `body` is None, bytes, or an async iterator, sent chunked when
        `chunked`, else as is (a streamed one must then give exactly the `length` its head
        declares, when >= 0). Returns the whole message tuple when `buffered`, else the
        connection, positioned after the response head. `deadline` (a time.monotonic()
        instant, or None) bounds the connect, a stale retry and the whole response."""
        loop = _get_running_loop()
        cdef Pool pool = self.pool_for(loop)
        cdef H1Connection conn
        cdef bint streamed = body is not None and not isinstance(body, bytes)
        cdef bint retried = False
        cdef bytes data
        cdef double started = now()
        timeout = None
        if chunked and not streamed:
            body = frame_chunk(body) + b"0\r\n\r\n" if body else b"0\r\n\r\n"
        while True:
            if deadline is not None:
                timeout = deadline - _monotonic()
                if timeout <= 0:
                    raise TimeoutError("request timed out")
            # the stale-connection retry goes out on a new connection: another pooled one
            # may be just as stale
            conn = None if retried else <H1Connection>pool.checkout(key)
            if conn is None:
                conn = await self._connect(loop, key, pool, deadline)
                if deadline is not None:
                    timeout = max(deadline - _monotonic(), 0.0)
            conn.new_stamps(started)  # response.timings
            data = head
            big_body = None
            if body is not None and not streamed:
                if PyBytes_GET_SIZE(body) <= JOIN_BODY_MAX:
                    data = head + body
                else:
                    big_body = body
            waiter = conn.start(data, head_request, buffered, streamed, timeout, self.read_timeout)
            conn.close_after = close_after
            if big_body is not None:
                conn.transport.write(big_body)
            if streamed:
                conn.upload_task = loop.create_task(_upload(conn, body, chunked, length))
            try:
                return await waiter if buffered else (await waiter, conn)[1]
            except CancelledError:
                # cancelled after a buffered response completed: the connection went back to
                # the pool before we ran and may already carry another request; not ours
                if not (buffered and waiter.done() and not waiter.cancelled()
                        and waiter.exception() is None):
                    conn.abort()
                raise
            except BaseException:
                if (replayable and not retried and conn.reused and not conn.got_bytes
                        and not streamed):
                    # the peer closed this idle connection as we sent: once more, fresh
                    retried = True
                    conn.abort()
                    continue
                conn.abort()
                raise


async def _upload(H1Connection conn, body, bint chunked, Py_ssize_t length):
    """Pump a streamed request body with write back-pressure; always closes the iterator.
    A body that fails (or strays from the length its head declares) fails the request, its
    connection closed."""
    cdef BodyFramer framer = BodyFramer(chunked, length)
    cdef bint sending = False
    cdef object exc = None
    try:
        async for chunk in body:
            data = framer.frame(chunk)
            if data is None:
                continue
            sending = True
            conn.write(data)
            w = conn.drain()
            if w is not None:
                await w
            sending = False
        data = framer.finish()
        if data:
            sending = True
            conn.write(data)
        conn.end_request()
    except CancelledError:
        raise
    except BaseException as e:
        exc = write_error(e) if sending else body_error(e)
    finally:
        aclose = getattr(body, "aclose", None)
        if aclose is not None:
            try:
                await aclose()
            except Exception:
                pass
    if exc is not None and conn.error is None:
        conn.upload_task = None
        if sending and conn.transport.is_closing():
            # the write met a closed connection: connection_lost (which always follows) reads
            # what the peer answered before it closed, or fails the request
            return
        conn.abort(exc)

