"""_Backoff: exponential backoff with jitter, as the `backoff` crate the original uses computes
it (also importable as `pyqwest._pyqwest._Backoff`)."""

from __future__ import annotations

import random
import time

# the crate's default: no more waits once 15 minutes went by since the first one was asked for
MAX_ELAPSED = 15 * 60.0


class _Backoff:
    """Waits between retries: the interval starts at `initial_interval`, grows by `multiplier`
    up to `max_interval`, and each wait is the interval ± `randomization_factor` of it."""

    __slots__ = ("_interval", "_max_interval", "_multiplier", "_randomization", "_start")

    def __init__(
        self,
        initial_interval: float,
        randomization_factor: float,
        multiplier: float,
        max_interval: float,
    ) -> None:
        self._interval = float(initial_interval)
        self._randomization = float(randomization_factor)
        self._multiplier = float(multiplier)
        self._max_interval = float(max_interval)
        self._start = time.monotonic()

    def next_backoff(self) -> float | None:
        """The next wait in seconds; None once the total elapsed time is over 15 minutes."""
        elapsed = time.monotonic() - self._start
        if elapsed > MAX_ELAPSED:
            return None
        delta = self._randomization * self._interval
        wait = self._interval - delta + random.random() * 2 * delta
        if self._interval >= self._max_interval / self._multiplier:
            self._interval = self._max_interval
        else:
            self._interval *= self._multiplier
        return wait if elapsed + wait <= MAX_ELAPSED else None
