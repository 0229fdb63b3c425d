"""The sync per-call deadline: a context variable transports read (spec §2).

`SyncClient(timeout=...)` and users' code set it with `set_sync_timeout`; a transport reads it
once, when a request starts, so body reads after the `with` block still honour it.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import time
from collections.abc import Iterator

from ._options import check_timeout

# absolute time.monotonic() deadline, or None
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "pyqwest_sync_deadline", default=None
)


@contextlib.contextmanager
def set_sync_timeout(timeout: float) -> Iterator[None]:
    """Set the deadline of sync requests made in this context to now + `timeout` seconds;
    the previous deadline is restored on exit."""
    seconds = check_timeout(timeout)
    token = _deadline.set(time.monotonic() + (seconds or 0.0))
    try:
        yield
    finally:
        _deadline.reset(token)


def get_sync_timeout() -> datetime.timedelta | None:
    """The time left before the current context's deadline (0 once passed), None if unset."""
    deadline = _deadline.get()
    if deadline is None:
        return None
    return datetime.timedelta(seconds=max(0.0, deadline - time.monotonic()))


# The current context's deadline as a time.monotonic() value, None if unset (the bound `get`
# of its context variable: every request asks, and a function around it costs a call).
sync_deadline = _deadline.get
