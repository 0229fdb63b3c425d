"""Pools of multiplexed connections (HTTP/2, and HTTP/3 too): `H2Pool` holds one transport's
connections on one event loop (one per origin) and runs exchanges on them (stream slots,
retries); `H2Pools` keeps one `H2Pool` per running event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import h2.exceptions

from .._mux import MuxConnection

Connect = Callable[[asyncio.AbstractEventLoop, Any], Awaitable[MuxConnection | None]]


class H2Pool:
    """The HTTP/2 connections of one transport on one event loop: one per origin."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        connect: Connect,
        idle_timeout: float | None,
        max_idle: int | None,
    ) -> None:
        self.loop = loop
        self._connect = connect
        self.idle_timeout = idle_timeout
        self.max_idle = max_idle
        self.conns: dict[Any, MuxConnection] = {}
        self._connecting: dict[Any, asyncio.Future[Any]] = {}
        self.closed = False

    def forget(self, conn: MuxConnection) -> None:
        if self.conns.get(conn.key) is conn:
            del self.conns[conn.key]

    async def acquire(self, key: Any, deadline: float | None = None) -> MuxConnection | None:
        """A connection to `key` with a free stream slot (waiting for one until `deadline`, a
        loop time, or connecting); None when the connector found the origin speaks
        HTTP/1.1."""
        while True:
            conn = self.conns.get(key)
            if conn is not None:
                if conn.available:
                    return conn
                if not conn.usable:
                    self.forget(conn)
                    continue
                w = conn.wait_capacity()
                timer = None if deadline is None else self.loop.call_at(deadline, _expire, w)
                try:
                    await w
                except asyncio.CancelledError:
                    if w.done() and not w.cancelled():
                        conn.wake_capacity()  # pass the slot on
                    raise
                finally:
                    if timer is not None:
                        timer.cancel()
                continue
            pending = self._connecting.get(key)
            if pending is not None:
                result = await asyncio.shield(pending)
                if result is _HTTP1:
                    return None
                if isinstance(result, BaseException):
                    raise _copy(result)
                continue
            return await self._open(key)

    async def _open(self, key: Any) -> MuxConnection | None:
        """Connect (the one connector for `key`; concurrent acquirers wait for it)."""
        fut: asyncio.Future[Any] = self.loop.create_future()
        self._connecting[key] = fut
        result: Any = None
        try:
            conn = await self._connect(self.loop, key)
            if conn is None:
                result = _HTTP1
                return None
            conn.pool = self
            if self.closed:
                conn.usable = False
            else:
                old = self.conns.get(key)
                if old is not None and old.usable:
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
        timeout: float | None,
        read_timeout: float | None,
    ) -> Any:
        """Send one request. Returns (status, headers, body, trailers) when `buffered`, else
        the stream positioned after the response head; None if the origin speaks HTTP/1.1
        (found while connecting: nothing was sent)."""
        retried = False
        attempts = 0
        conns = self.conns
        # the total timeout also covers waiting for a stream slot
        deadline = None if timeout is None else self.loop.time() + timeout
        while True:
            conn = conns.get(key)
            if conn is None or not conn.available:
                conn = await self.acquire(key, deadline)
                if conn is None:
                    return None
            if deadline is not None:
                timeout = max(0.0, deadline - self.loop.time())
            try:
                stream = conn.open_stream(headers, body, buffered, timeout, read_timeout)
            except h2.exceptions.TooManyStreamsError:
                # h2 counts more open streams than we do: wait for one to end
                conn.max_streams = max(1, min(conn.max_streams, conn.nopen))
                attempts += 1
                if attempts > 3:
                    conn._unusable()
                continue
            except h2.exceptions.H2Error:
                # out of stream ids, or the connection is closing: another one
                conn._unusable()
                attempts += 1
                if attempts > 3:
                    raise
                continue
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
                if stream.retryable and replayable and not retried:
                    retried = True
                    stream.abort()
                    continue
                stream.abort()
                raise

    def close(self) -> None:
        """No new streams; connections close as their streams end."""
        self.closed = True
        conns, self.conns = self.conns, {}
        for conn in conns.values():
            conn.usable = False
            if not conn.streams:
                conn.close()


_HTTP1 = object()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError("Request failed: timed out waiting for an HTTP/2 stream"))


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
        timeout: float | None,
        read_timeout: float | None,
    ) -> None:
        self._connect = connect
        self._idle_timeout = idle_timeout
        self._max_idle = max_idle
        self.timeout = timeout
        self.read_timeout = read_timeout
        self._pools: dict[asyncio.AbstractEventLoop, H2Pool] = {}
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
                loop, self._connect, self._idle_timeout, self._max_idle
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
    ) -> Awaitable[Any]:
        pool = self.pool_for(asyncio.get_running_loop())
        return pool.exchange(
            key, headers, body, buffered, replayable, self.timeout, self.read_timeout
        )

    def close(self) -> None:
        pools, self._pools = self._pools, {}
        self._last = None
        for pool in pools.values():
            pool.close()
