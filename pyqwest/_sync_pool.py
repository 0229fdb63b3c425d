"""Idle connections per origin for sync transports, shared by threads.

One lock guards the idle stacks and the set of connections in use; nothing blocking runs
under it. Checkout peeks at the socket (a zero-timeout poll) so a connection the server
closed while idle is never handed out. Idle eviction runs lazily, from checkins.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable
from typing import Protocol

from cpqwest._errors import ReadError
from cpqwest._pool import RouteStats, opened_on


class SyncPooled(Protocol):
    """What the pool needs of a connection."""

    key: Hashable
    idle_since: float
    reused: bool
    closed: bool
    stats: RouteStats | None

    def alive(self) -> bool: ...
    def close(self) -> None: ...
    def abort(self, exc: BaseException | None = None) -> None: ...


class SyncPool:
    """Idle stacks per key plus the connections in use (so `close()` can wake their readers)."""

    def __init__(self, idle_timeout: float | None, max_idle: int | None) -> None:
        self._lock = threading.Lock()
        self._idle: dict[Hashable, list[SyncPooled]] = {}
        self._in_use: set[SyncPooled] = set()
        self._idle_timeout = idle_timeout
        self._max_idle = max_idle
        self._next_sweep = 0.0
        self.closed = False
        self.stats: dict[Hashable, RouteStats] = {}  # per key (pool statistics)

    def checkout(self, key: Hashable) -> SyncPooled | None:
        """An idle, live connection for `key` (marked in use), or None."""
        while True:
            with self._lock:
                stack = self._idle.get(key)
                if not stack:
                    return None
                conn = stack.pop()
                self._in_use.add(conn)
            expired = self._expired(conn, time.monotonic())
            if not conn.closed and not expired and conn.alive():
                return conn
            self.forget(conn)
            if expired:
                _close_idle(conn)
            else:
                conn.close()

    def track(self, conn: SyncPooled) -> bool:
        """Mark a new connection in use; False (and it is closed) once the pool is closed."""
        with self._lock:
            if not self.closed:
                self._in_use.add(conn)
                conn.stats = opened_on(self.stats, conn.key)
                return True
        conn.close()
        return False

    def forget(self, conn: SyncPooled) -> None:
        """A connection in use is closed for good."""
        with self._lock:
            self._in_use.discard(conn)

    def checkin(self, conn: SyncPooled) -> None:
        """A connection whose exchange ended cleanly: idle again, or closed past the cap."""
        now = time.monotonic()
        expired: list[SyncPooled] = []
        with self._lock:
            self._in_use.discard(conn)
            stack = self._idle.setdefault(conn.key, [])
            keep = not (self.closed or conn.closed or self._max_idle == 0 or (
                self._max_idle is not None and len(stack) >= self._max_idle))
            if keep:
                conn.idle_since = now
                stack.append(conn)
            if self._idle_timeout is not None and now >= self._next_sweep:
                self._next_sweep = now + max(self._idle_timeout / 2, 0.05)
                expired = self._take_expired(now)
        if not keep:
            conn.close()
        for old in expired:
            _close_idle(old)

    def _expired(self, conn: SyncPooled, now: float) -> bool:
        return self._idle_timeout is not None and now - conn.idle_since >= self._idle_timeout

    def _take_expired(self, now: float) -> list[SyncPooled]:
        """Remove and return the idle connections past the idle timeout (lock held)."""
        out: list[SyncPooled] = []
        for key in list(self._idle):
            stack = self._idle[key]
            live = [c for c in stack if not self._expired(c, now)]
            out.extend(c for c in stack if self._expired(c, now))
            if live:
                self._idle[key] = live
            else:
                del self._idle[key]
        return out

    def idle_by_key(self) -> dict[Hashable, int]:
        """{key: idle connections still open} (pool statistics)."""
        with self._lock:
            counts = {key: sum(1 for c in s if not c.closed) for key, s in self._idle.items()}
        return {key: n for key, n in counts.items() if n}

    def idle_count(self, key: Hashable | None = None) -> int:
        """Idle connections that are still open (all keys when key is None); for tests."""
        with self._lock:
            stacks = list(self._idle.values()) if key is None else [self._idle.get(key, [])]
            return sum(1 for s in stacks for c in s if not c.closed)

    def close(self) -> None:
        """Close the idle connections, and abort those in use: a thread blocked reading one
        wakes with ReadError at once."""
        with self._lock:
            self.closed = True
            idle, self._idle = self._idle, {}
            in_use, self._in_use = self._in_use, set()
        for stack in idle.values():
            for conn in stack:
                conn.close()
        for conn in in_use:
            conn.abort(ReadError("transport closed"))


def _close_idle(conn: SyncPooled) -> None:
    """Close an idle connection past the idle timeout, counted as such."""
    if not conn.closed and conn.stats is not None:
        conn.stats.closed_idle += 1
    conn.close()
