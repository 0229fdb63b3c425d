"""One HTTP/1.1 request/response exchange on a pooled connection.

`H1Pools` owns the per-event-loop pools of one transport. `exchange` checks a connection out
(or has the transport's connector open one), writes the request, pumps a streamed body, and
retries once on a fresh connection when a reused one turns out to have been closed by the peer
before answering.
"""

import asyncio

from cpython.bytes cimport PyBytes_GET_SIZE

from cpqwest._pool cimport Pool
from cpqwest._protocol cimport H1Connection
from cpqwest._stamps cimport new_stamps, now

from cpqwest._errors import WriteError

cdef object _get_running_loop = asyncio.get_running_loop
cdef object CancelledError = asyncio.CancelledError

# A bytes body up to this size is joined to the head: one write, one syscall.
cdef Py_ssize_t JOIN_BODY_MAX = 65536


cdef class H1Pools:
    """The HTTP/1.1 pools of one transport: one Pool per running event loop."""
    cdef object _connect           # async (loop, key, pool) -> H1Connection
    cdef object _idle_timeout
    cdef object _max_idle
    # (loop, pool) of the last lookup, as one object: threads running their own loops on one
    # transport always read a matching pair
    cdef tuple _last
    cdef dict _pools
    cdef readonly dict stats       # key -> RouteStats, across loops (pool statistics)
    cdef public object timeout
    cdef public object read_timeout

    def __init__(self, connect, idle_timeout, max_idle, timeout, read_timeout):
        self._connect = connect
        self._idle_timeout = idle_timeout
        self._max_idle = max_idle
        self._pools = {}
        self.stats = {}
        self.timeout = timeout
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
                       Py_ssize_t length=-1):
        """Send one request. `body` is None, bytes, or an async iterator, sent chunked when
        `chunked`, else as is (a streamed one must then give exactly the `length` its head
        declares, when >= 0). Returns the whole message tuple when `buffered`, else the
        connection, positioned after the response head."""
        loop = _get_running_loop()
        cdef Pool pool = self.pool_for(loop)
        cdef H1Connection conn
        cdef bint streamed = body is not None and not isinstance(body, bytes)
        cdef bint retried = False
        cdef bytes data
        cdef double started = now()
        timeout = self.timeout
        if chunked and not streamed:
            body = _chunk(body) + b"0\r\n\r\n" if body else b"0\r\n\r\n"
        while True:
            # the stale-connection retry goes out on a new connection: another pooled one
            # may be just as stale
            conn = None if retried else <H1Connection>pool.checkout(key)
            if conn is None:
                conn = await self._connect(loop, key, pool)
            # the first exchange on a connection reports its setup (DNS, connect, TLS)
            if conn.setup is None and conn.stats is not None:
                conn.stats.reused += 1
            conn.stamps = new_stamps(started, conn.setup)
            conn.setup = None
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


cdef bytes _chunk(data):
    """One chunk of a chunked body (RFC 9112 §7.1)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


async def _upload(H1Connection conn, body, bint chunked, Py_ssize_t length):
    """Pump a streamed request body with write back-pressure; always closes the iterator.
    Unchunked, it sends exactly `length` bytes (when >= 0): a body that strays from the
    length its head declares fails the request, its connection closed."""
    cdef object exc = None
    cdef Py_ssize_t sent = 0
    try:
        async for chunk in body:
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise TypeError("Request body chunk must be bytes, got %s" % type(chunk).__name__)
            if not chunk:
                continue
            if chunked:
                conn.write(_chunk(chunk))
            else:
                if length >= 0:
                    sent += len(chunk)
                    if sent > length:
                        raise ValueError(
                            "request body longer than its Content-Length (%d)" % length)
                conn.write(chunk)
            w = conn.drain()
            if w is not None:
                await w
        if chunked:
            conn.write(b"0\r\n\r\n")
        elif 0 <= length != sent:
            raise ValueError(
                "request body shorter than its Content-Length (%d of %d bytes)" % (sent, length))
        conn.end_request()
    except CancelledError:
        raise
    except WriteError as e:
        exc = e
    except BaseException as e:
        exc = WriteError("Request failed: %s" % (e,))
        exc.__cause__ = e
    finally:
        aclose = getattr(body, "aclose", None)
        if aclose is not None:
            try:
                await aclose()
            except Exception:
                pass
    if exc is not None and conn.error is None:
        conn.upload_task = None
        conn.abort(exc)


def build_head(str method, str target, str host, pairs, bint json, Py_ssize_t body_len,
               bint chunked, str accept_encoding):
    """The request head as bytes. `pairs` are validated (name, value) pairs (names lower-case)
    or None. body_len < 0: no Content-Length."""
    cdef list parts = [method, " ", target, " HTTP/1.1\r\n"]
    cdef bint has_host = False, has_accept = False, has_ae = False, has_ct = False
    cdef bint has_len = False
    cdef str name
    if pairs is not None:
        for name, value in pairs:
            if name == "host":
                has_host = True
            elif name == "accept":
                has_accept = True
            elif name == "accept-encoding":
                has_ae = True
            elif name == "content-type":
                has_ct = True
            elif name == "content-length" or name == "transfer-encoding":
                has_len = True
            parts.append(name)
            parts.append(": ")
            parts.append(value)
            parts.append("\r\n")
    if not has_host:
        parts.append("host: ")
        parts.append(host)
        parts.append("\r\n")
    if not has_accept:
        parts.append("accept: */*\r\n")
    if accept_encoding is not None and not has_ae:
        parts.append("accept-encoding: ")
        parts.append(accept_encoding)
        parts.append("\r\n")
    if json and not has_ct:
        parts.append("content-type: application/json\r\n")
    if not has_len:
        if chunked:
            parts.append("transfer-encoding: chunked\r\n")
        elif body_len >= 0:
            parts.append("content-length: ")
            parts.append(str(body_len))
            parts.append("\r\n")
    parts.append("\r\n")
    return "".join(parts).encode("utf-8")
