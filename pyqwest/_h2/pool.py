"""Pools of multiplexed connections (HTTP/2, and HTTP/3 too): `H2Pool` holds one transport's
connections on one event loop (one per origin) and runs exchanges on them (stream slots,
retries); `H2Pools` keeps one `H2Pool` per running event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import h2.exceptions

from cpqwest._errors import RemoteProtocolError
from cpqwest._pool import RouteStats, opened_on

from .._mux import MuxConnection
from .errors import may_resend
from .resend import MAX_ATTEMPTS, ResendTarget, Rotation, next_serial

# (loop, key, deadline: a time.monotonic() instant or None) -> a ready connection
Connect = Callable[
    [asyncio.AbstractEventLoop, Any, float | None], Awaitable[MuxConnection | None]
]


class H2Pool:
    """The HTTP/2 connections of one transport on one event loop: one per origin.

    Connections per origin stay bounded: one takes new streams, the others only finish theirs
    (each closes when its last stream ends); concurrent requests share one connect; a request
    tries at most `MAX_ATTEMPTS` times to open its stream, takes at most one more connection
    when a new one is closed before its first request, and is sent again at most once.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        connect: Connect,
        idle_timeout: float | None,
        max_idle: int | None,
        stats: dict[Any, RouteStats] | None = None,
    ) -> None:
        self.loop = loop
        self._connect = connect
        # key -> RouteStats, shared by the pools of all loops (pool statistics)
        self.stats: dict[Any, RouteStats] = {} if stats is None else stats
        self.idle_timeout = idle_timeout
        self.max_idle = max_idle
        self.conns: dict[Any, MuxConnection] = {}
        self._connecting: dict[Any, asyncio.Future[Any]] = {}
        self.rotation = Rotation()  # what GOAWAYs told of the servers' stream limits
        self.closed = False

    def forget(self, conn: MuxConnection) -> None:
        """`conn` takes no new streams: no longer handed out."""
        if self.conns.get(conn.key) is conn:
            del self.conns[conn.key]

    async def acquire(
        self,
        key: Any,
        deadline: float | None = None,
        until: float | None = None,
        target: ResendTarget | None = None,
    ) -> MuxConnection | None:
        """A connection to `key` with a free stream slot (waiting for one until `deadline`, a
        loop time, or connecting by `until`, the same instant in time.monotonic()); None when
        the connector found the origin speaks HTTP/1.1. For a resend, one that `target` fits
        (a new one if need be)."""
        no_streams_until: float | None = None
        closed_at_once = 0
        turn: MuxConnection | None = None  # the connection on which this one's turn came
        while True:
            conn = self.conns.get(key)
            if conn is not None and target is not None and not target.fits(conn):
                conn = None  # a connection begun after this one's, or a new one
            if conn is not None:
                if conn.has_turn_slot() if conn is turn else conn.available:
                    return conn
                if not conn.usable:
                    self.forget(conn)
                    continue
                if conn.max_streams == 0 and deadline is None:
                    # nothing frees a slot but the server's next SETTINGS: wait, not forever
                    if no_streams_until is None:
                        no_streams_until = self.loop.time() + NO_STREAMS_WAIT
                    await _slot(conn, conn is turn, no_streams_until, RemoteProtocolError(
                        "Request failed: the HTTP/2 server allows no streams "
                        f"(SETTINGS_MAX_CONCURRENT_STREAMS = 0) for {NO_STREAMS_WAIT:g} s"
                    ))
                else:
                    await _slot(conn, conn is turn, deadline, TimeoutError(
                        "Request failed: timed out waiting for an HTTP/2 stream"
                    ))
                turn = conn
                continue
            pending = self._connecting.get(key)
            if pending is not None:
                result = await asyncio.shield(pending)
                if result is _HTTP1:
                    return None
                if isinstance(result, BaseException):
                    raise _copy(result)
                continue
            conn = await self._open(key, until)
            if conn is None:
                return None
            if self.closed:
                raise RuntimeError("Request failed: already closed transport")
            if not conn.usable:
                # GOAWAY before any request: one more connection (a server restarting), not
                # connection after connection
                closed_at_once += 1
                if closed_at_once > 1:
                    raise RemoteProtocolError(
                        "Request failed: the HTTP/2 connection was closed before its first "
                        "request"
                    )

    async def _open(self, key: Any, until: float | None) -> MuxConnection | None:
        """Connect (the one connector for `key`; concurrent acquirers wait for it)."""
        fut: asyncio.Future[Any] = self.loop.create_future()
        self._connecting[key] = fut
        serial = next_serial()
        result: Any = None
        try:
            conn = await self._connect(self.loop, key, until)
            if conn is None:
                result = _HTTP1
                return None
            conn.pool = self
            conn.serial = serial
            conn.budget = self.rotation.budget(key)
            conn.stats = opened_on(self.stats, key)
            if self.closed:
                conn._unusable()
            elif conn.usable:
                old = self.conns.get(key)
                if old is not None:
                    old._unusable()
                self.conns[key] = conn
            result = conn
            return conn
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            result = exc
            raise
        finally:
            del self._connecting[key]
            fut.set_result(result)

    async def exchange(
        self,
        key: Any,
        headers: list[tuple[str, str]],
        body: Any,
        buffered: bool,
        replayable: bool,
        until: float | None,
        read_timeout: float | None,
    ) -> Any:
        """Send one request. Returns (status, headers, body, trailers) when `buffered`, else
        the stream positioned after the response head; None if the origin speaks HTTP/1.1
        (found while connecting: nothing was sent). `replayable`: idempotent, body not
        streamed (the stale-connection retry). `until`: the request's deadline (a
        time.monotonic() instant, or None), connecting included."""
        resent = False
        target: ResendTarget | None = None  # where the resend may go
        attempts = 0
        replayable_body = body is None or isinstance(body, bytes)
        conns = self.conns
        started = time.monotonic()  # response.timings counts from here
        # the total timeout also covers connecting and waiting for a stream slot
        timeout = deadline = None
        if until is not None:
            deadline = self.loop.time() + (until - time.monotonic())
        while True:
            conn = conns.get(key)
            if conn is None or not conn.available or (
                target is not None and not target.fits(conn)
            ):
                conn = await self.acquire(key, deadline, until, target)
                if conn is None:
                    return None
            if deadline is not None:
                timeout = max(0.0, deadline - self.loop.time())
            try:
                stream = conn.open_stream(headers, body, buffered, timeout, read_timeout)
            except h2.exceptions.H2Error as exc:
                attempts += 1
                if attempts > MAX_ATTEMPTS:
                    conn._unusable()
                    raise RemoteProtocolError(
                        f"Request failed: the HTTP/2 connection refused a new stream: {exc}"
                    ) from exc
                if isinstance(exc, h2.exceptions.TooManyStreamsError):
                    # h2 counts more open streams than we do: wait for one to end
                    conn.max_streams = max(1, min(conn.max_streams, conn.nopen))
                else:
                    # out of stream ids, or the connection is closing: another one
                    conn._unusable()
                continue
            stream.stamps.start = started
            waiter = stream._waiter
            try:
                if buffered:
                    return await waiter
                await waiter
                return stream
            except asyncio.CancelledError:
                stream.abort()
                raise
            except BaseException:
                stream.abort()
                if resent or not may_resend(stream.resend, replayable, replayable_body):
                    raise
                resent = True
                # REFUSED_STREAM leaves the connection up: the retry goes to a new one all the
                # same (as curl does), and that one takes the streams that follow
                conn._unusable()
                target = ResendTarget.after_failure(conn.retired_at, conn.processed, conn.opened)

    def idle_and_waiting(self) -> dict[Any, tuple[int, int]]:
        """{key: (idle connections, requests waiting for a stream slot)} (pool statistics)."""
        return {
            key: (int(not conn.closed and not conn.streams), len(conn.slots))
            for key, conn in list(self.conns.items())
        }

    def open_count(self) -> int:
        """Connections of this pool that are still open."""
        return sum(1 for conn in self.conns.values() if not conn.closed)

    def close(self) -> None:
        """No new streams; connections close as their streams end."""
        self.closed = True
        conns, self.conns = self.conns, {}
        for conn in conns.values():
            conn.usable = False
            if not conn.streams:
                conn.close()


# A request waits this long (seconds) on a connection whose server allows no streams at all
# when it has no timeout of its own; with one, it waits until its deadline.
NO_STREAMS_WAIT = 10.0

_HTTP1 = object()


async def _slot(
    conn: MuxConnection, first: bool, until: float | None, expired: BaseException
) -> None:
    """Wait for this request's turn at a stream slot of `conn` (or for `conn` to take no more
    streams), last in line or `first`; at loop time `until`, raise `expired`."""
    w = conn.wait_capacity(first)
    timer = None if until is None else conn.loop.call_at(until, _expire, w, expired)
    try:
        await w
    except BaseException:
        if w.done() and not w.cancelled() and w.exception() is None:
            # cancelled once its turn had come: the slot goes to the next waiter
            conn.slots.took_turn()
            conn.grant_slots()
        else:
            conn.slots.leave(w)
        raise
    finally:
        if timer is not None:
            timer.cancel()
    conn.slots.took_turn()


def _expire(waiter: asyncio.Future[None], exc: BaseException) -> None:
    if not waiter.done():
        waiter.set_exception(exc)


def _copy(exc: BaseException) -> BaseException:
    """A fresh exception like `exc` for another waiter (one instance, one traceback)."""
    try:
        new = type(exc)(*exc.args)
    except Exception:
        new = ConnectionError(str(exc))
    new.__cause__ = exc.__cause__
    return new


class H2Pools:
    """The HTTP/2 pools of one transport: one `H2Pool` per running event loop."""

    def __init__(
        self,
        connect: Connect,
        idle_timeout: float | None,
        max_idle: int | None,
        read_timeout: float | None,
    ) -> None:
        self._connect = connect
        self._idle_timeout = idle_timeout
        self._max_idle = max_idle
        self.read_timeout = read_timeout
        self._pools: dict[asyncio.AbstractEventLoop, H2Pool] = {}
        self.stats: dict[Any, RouteStats] = {}
        # (loop, pool) of the last lookup as one object: threads running their own loops on
        # one transport always read a matching pair
        self._last: tuple[asyncio.AbstractEventLoop, H2Pool] | None = None

    def pool_for(self, loop: asyncio.AbstractEventLoop) -> H2Pool:
        last = self._last
        if last is not None and last[0] is loop:
            return last[1]
        pool = self._pools.get(loop)
        if pool is None:
            # a pool never outlives its loop: drop those of closed loops
            for old in [lp for lp in self._pools if lp.is_closed()]:
                self._pools.pop(old).close()
            pool = self._pools[loop] = H2Pool(
                loop, self._connect, self._idle_timeout, self._max_idle, self.stats
            )
        self._last = (loop, pool)
        return pool

    def exchange(
        self,
        key: Any,
        headers: list[tuple[str, str]],
        body: Any,
        buffered: bool,
        replayable: bool,
        until: float | None = None,
    ) -> Awaitable[Any]:
        pool = self.pool_for(asyncio.get_running_loop())
        return pool.exchange(key, headers, body, buffered, replayable, until, self.read_timeout)

    def idle_and_waiting(self) -> dict[Any, tuple[int, int]]:
        """{key: (idle connections, requests waiting for a stream slot)} over every loop."""
        out: dict[Any, tuple[int, int]] = {}
        for pool in list(self._pools.values()):
            for key, (idle, waiting) in pool.idle_and_waiting().items():
                was = out.get(key, (0, 0))
                out[key] = (was[0] + idle, was[1] + waiting)
        return out

    def detach(self) -> dict[asyncio.AbstractEventLoop, H2Pool]:
        """Take every pool out: later requests get new ones."""
        pools, self._pools = self._pools, {}
        self._last = None
        return pools

    def close(self) -> None:
        for pool in self.detach().values():
            pool.close()
