"""The total deadline of a request: fixed when it starts, honoured through DNS, connect, TLS,
a stale retry, every redirect hop and the body (spec §1.10 `timeout`, §2). Values are
time.monotonic() instants; None means no limit."""

from __future__ import annotations

import time
from typing import TypeAlias

# a time.monotonic() instant, or None (no limit): one type for both transports
Deadline: TypeAlias = float | None


def start_deadline(timeout: float | None, context_deadline: Deadline = None) -> Deadline:
    """The deadline of a request starting now: the transport's `timeout` from now, or the
    caller's context deadline (set_sync_timeout), whichever comes first."""
    if timeout is None:
        return context_deadline
    at = time.monotonic() + timeout
    return at if context_deadline is None else min(at, context_deadline)


def earliest(deadline: Deadline, within: float | None) -> Deadline:
    """The earlier of `deadline` and `within` seconds from now (connect_timeout, say)."""
    if within is None:
        return deadline
    at = time.monotonic() + within
    return at if deadline is None else min(at, deadline)


def time_left(deadline: Deadline, cap: float | None = None) -> float | None:
    """Seconds one blocking call may wait: up to `deadline`, at most `cap` (read_timeout);
    None for no limit. Raises TimeoutError once the deadline has passed."""
    if deadline is None:
        return cap
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("request timed out")
    return left if cap is None or left < cap else cap
