"""A one-line download progress bar for a terminal's stderr."""

from __future__ import annotations

import time
from typing import TextIO

_WIDTH = 30


def human_bytes(n: float) -> str:
    """``1536`` → ``'1.5 KiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


class ProgressBar:
    """Redraws ``[####    ]  42%  1.2 MiB / 2.9 MiB  3.4 MiB/s`` at most 10 times a second.

    ``total`` is the declared length, or None (then only the bytes so far and the rate).
    """

    def __init__(self, stream: TextIO, total: int | None) -> None:
        self._stream = stream
        self._total = total
        self._done = 0
        self._start = time.monotonic()
        self._last_draw = 0.0

    def advance(self, n: int) -> None:
        """Count ``n`` more bytes received."""
        self._done += n
        now = time.monotonic()
        if now - self._last_draw >= 0.1:
            self._last_draw = now
            self._draw(now)

    def finish(self) -> None:
        """Draw the final state and end the line."""
        self._draw(time.monotonic())
        self._stream.write("\n")
        self._stream.flush()

    def _draw(self, now: float) -> None:
        rate = self._done / max(now - self._start, 1e-6)
        if self._total:
            frac = min(self._done / self._total, 1.0)
            filled = int(frac * _WIDTH)
            line = (f"[{'#' * filled}{' ' * (_WIDTH - filled)}] {frac:4.0%}  "
                    f"{human_bytes(self._done)} / {human_bytes(self._total)}")
        else:
            line = human_bytes(self._done)
        self._stream.write(f"\r{line}  {human_bytes(rate)}/s\x1b[K")
        self._stream.flush()
