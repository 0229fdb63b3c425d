"""The stream slots of one multiplexed connection (HTTP/2, HTTP/3), handed out in the order they
were asked for; shared by the asyncio and the blocking driver, which only know how to wake a
waiter.

A slot that frees goes to the oldest waiter and stays reserved for it until it runs: a request
that arrives meanwhile queues behind it instead of taking it. Without that, a worker sending
request after request overtook a waiter for as long as it liked, and a refused stream's one
resend was pushed past a rotating server's limit and refused again (issue 11)."""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

W = TypeVar("W")


class SlotQueue(Generic[W]):
    """Who waits for a stream slot, in order, and how many freed slots are promised to waiters
    that have not run yet. `wake(waiter)` tells a waiter its turn came; it returns False for
    one that gave up meanwhile (it gets no slot)."""

    __slots__ = ("_reserved", "_waiters", "_wake")

    def __init__(self, wake: Callable[[W], bool]) -> None:
        self._waiters: deque[W] = deque()
        self._reserved = 0  # slots promised to woken waiters
        self._wake = wake

    def __len__(self) -> int:
        """Requests waiting for a slot now (pool statistics)."""
        return len(self._waiters)

    def may_open(self, free: int, turn: bool = False) -> bool:
        """Whether a request may open a stream now that the connection has `free` slots. One
        whose `turn` came (woken, its reservation ended by `took_turn`) needs only a slot nobody
        else was promised; any other also waits while anyone queues before it."""
        return free > self._reserved and (turn or not self._waiters)

    def join(self, waiter: W, first: bool = False) -> None:
        """`waiter` waits for a slot: last in line, or `first` (one whose turn came but whose
        slot went away: the server lowered its limit)."""
        if first:
            self._waiters.appendleft(waiter)
        else:
            self._waiters.append(waiter)

    def leave(self, waiter: W) -> None:
        """`waiter` gave up before its turn came (a timeout, a cancel)."""
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)

    def took_turn(self) -> None:
        """A woken waiter runs: the slot promised to it is its own to take now (or to leave,
        calling `grant` again so that the next waiter gets it)."""
        self._reserved -= 1

    def grant(self, free: int) -> None:
        """The connection has `free` slots: wake the oldest waiters, one per slot not promised
        yet."""
        waiters = self._waiters
        while waiters and free > self._reserved:
            if self._wake(waiters.popleft()):
                self._reserved += 1

    def wake_all(self) -> None:
        """The connection takes no more streams: every waiter looks for another one."""
        waiters = self._waiters
        while waiters:
            if self._wake(waiters.popleft()):
                self._reserved += 1
