"""Open file descriptors of this process, for the tests that prove nothing leaks.

Compared as sets of "number -> target", not as counts: an earlier test's garbage that closes
during a check lowers a count and hides a leak, while a set names what is new."""

from __future__ import annotations

import contextlib
import os

HAVE_PROC = os.path.isdir("/proc/self/fd")


def open_fds() -> frozenset[str]:
    """Every open fd as "number -> target" (a number closed and reused for another file is new)."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own fd is gone by now
            found.add(f"{fd} -> {os.readlink(f'/proc/self/fd/{fd}')}")
    return frozenset(found)


def new_fds(before: frozenset[str]) -> set[str]:
    """The fds open now that were not open at `before`."""
    return set(open_fds() - before)


def open_sockets() -> int:
    """How many sockets are open (client and server sides)."""
    return sum("socket:" in fd for fd in open_fds())
