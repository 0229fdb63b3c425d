"""One deadline over an exchange's awaits (execute, then every body chunk) with a single timer.

`asyncio.timeout_at` per await costs a timer handle, a context object and heap churn each time;
the profile of httpx over our transport showed that as a fifth of the adapter's CPU. Here one
`call_at` handle per exchange cancels whichever task is waiting in `wait()` when it fires, and
that cancellation comes out as TimeoutError (the way asyncio.timeout does it, uncancel included).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

_T = TypeVar("_T")


class Deadline:
    """The deadline of one exchange; `cancel()` it when the exchange is over."""

    __slots__ = ("_expired", "_handle", "_waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        self._expired = False
        self._waiter: asyncio.Task[object] | None = None
        self._handle = loop.call_at(when, self._expire)

    def _expire(self) -> None:
        self._expired = True
        if self._waiter is not None:
            self._waiter.cancel()

    async def wait(self, awaitable: Awaitable[_T]) -> _T:
        """Await `awaitable`; TimeoutError if the deadline passes first (or already has)."""
        if self._expired:
            close = getattr(awaitable, "close", None)
            if close is not None:
                close()  # an unawaited coroutine must not warn
            raise TimeoutError("timed out")
        task = self._waiter = asyncio.current_task()
        # cancellations already pending on the task are not ours to turn into a timeout
        cancelling = task.cancelling() if task is not None else 0
        try:
            return await awaitable
        except asyncio.CancelledError:
            if self._expired and task is not None and task.uncancel() <= cancelling:
                raise TimeoutError("timed out") from None
            raise
        finally:
            self._waiter = None

    def cancel(self) -> None:
        self._handle.cancel()
