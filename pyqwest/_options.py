"""Checks of option values both transports and the sync client share (spec §1.10, §2)."""

from __future__ import annotations

import math


def check_timeout(value: float | None) -> float | None:
    """A timeout in seconds as a float (None stays None); ValueError for negative, inf, NaN."""
    if value is None:
        return None
    if not isinstance(value, (int, float)) or math.isnan(value) or math.isinf(value) or value < 0:
        raise ValueError("Timeout must be non-negative")
    return float(value)
