"""Where a request's one resend may go (API.md §0: a stream the server refused or did not
process goes once more on a new connection), and what a server's GOAWAYs tell of how many
streams it takes per connection, so that later connections stop short of it and their streams
are not refused at all. Shared by the asyncio pool and the blocking transport."""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sized
from typing import Protocol

# A connection refusing to open a request's stream (h2 refusing it, or it stopped taking streams
# while the request waited for a slot): this many tries, each on a new connection unless the
# old one only has to let a stream end, then an error. Not the one resend: nothing was sent.
MAX_ATTEMPTS = 3

# One order for connection attempts and retirements, across pools and threads: a connection
# whose connect began after another was retired has a larger serial than that retirement.
next_serial = itertools.count(1).__next__


def processed_limit(last_stream_id: int) -> int | None:
    """How many of our streams a GOAWAY says the server processed on that connection (client
    streams are 1, 3, 5...); None when it processed none (a reload or shutdown: no limit to
    learn)."""
    return (last_stream_id + 1) // 2 if last_stream_id > 0 else None


class Candidate(Protocol):
    """What `ResendTarget` asks of a connection (both drivers' connections have it)."""

    @property
    def serial(self) -> int:
        """When its connect began (a `next_serial` value)."""

    @property
    def opened(self) -> int:
        """Streams it opened."""

    @property
    def slots(self) -> Sized:
        """The requests waiting for one of its stream slots."""


class ResendTarget:
    """Which connection may carry a request's one resend (API.md §0), so that it is not
    refused again for the same cause: one whose connect began after the failed connection
    stopped taking streams (`after`, a `next_serial` value), not another connection made
    before then (one an old server worker accepted during a reload, or one as far into a
    rotating server's limit); and, when the failed connection was ended after `limit`
    processed streams, one whose next stream comes before that count. The second rule is for
    a resend that runs late: a thread the GIL kept waiting while others took 50 streams of the
    next connection reached the next rotation, before its limit was learnt. A connection's own
    stream budget (`Rotation`) does the rest; a limit guessed wrong costs a connection."""

    __slots__ = ("after", "limit")

    def __init__(self, after: int, limit: int | None = None) -> None:
        self.after = after
        self.limit = limit

    @classmethod
    def after_failure(cls, retired_at: int, processed: int | None, opened: int) -> ResendTarget:
        """The target for the resends of a connection that retired at `retired_at`, opened
        `opened` streams and was said to have processed `processed`. The count is kept below
        only when the server processed more streams than it refused (a rotation, a busy
        reload): then all of those resends fit on one new connection. A server that processed
        fewer (one stream, then GOAWAY) gives no count worth keeping below, and would spread
        the resends over a connection each."""
        if processed is None or processed <= opened - processed:
            return cls(retired_at)
        return cls(retired_at, processed)

    def fits(self, conn: Candidate) -> bool:
        """Whether `conn` may take it."""
        if conn.serial <= self.after:
            return False
        return self.limit is None or conn.opened + len(conn.slots) < self.limit


class Rotation:
    """The per-connection stream limits of the servers of one pool, learnt from GOAWAYs: a
    server that twice in a row ended a connection after the same number of processed streams,
    refusing the ones we had opened beyond, rotates them (nginx's keepalive_requests, 1000 by
    default); later connections to it take no more (`budget`), so no stream of theirs is
    refused. A graceful reload's GOAWAY names no such count twice, and one that refuses
    nothing (an idle close) teaches nothing; a limit learnt wrong costs connections, never a
    request."""

    __slots__ = ("_last", "_limits")

    def __init__(self) -> None:
        self._last: dict[Hashable, int] = {}
        self._limits: dict[Hashable, int] = {}

    def ended(self, key: Hashable, processed: int | None, opened: int) -> None:
        """A connection to `key` that opened `opened` streams was ended by a GOAWAY naming
        `processed` of them."""
        if processed is None or opened <= processed:
            return
        if self._last.get(key) == processed:
            self._limits[key] = processed
        self._last[key] = processed

    def budget(self, key: Hashable) -> int:
        """How many streams a new connection to `key` may open (unbounded: a large int)."""
        return self._limits.get(key, UNBOUNDED)


UNBOUNDED = 1 << 62
