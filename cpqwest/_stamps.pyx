"""Stamps: where one exchange's time went, as raw clock readings.

The connections stamp the points where things happen (request written, first response byte,
last byte) on the exchange's Stamps; pyqwest._timings turns them into the public Timings only
when a user reads `response.timings`. A reading is one vDSO call on CLOCK_MONOTONIC, the clock
of time.monotonic() and of asyncio's loop.time(), so Python and compiled stamps compare.
"""

cimport cython
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec


cdef double now() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


def monotonic():
    """time.monotonic(), for the Python connections' stamps."""
    return now()


@cython.freelist(64)
cdef class Stamps:
    def __init__(self, setup=None, double start=0.0):
        self.start = start if start > 0.0 else now()
        self.setup = setup

    def stamp_sent(self):
        self.sent = now()

    def stamp_first(self):
        if self.first == 0.0:
            self.first = now()

    def stamp_done(self):
        self.done = now()


cdef Stamps new_stamps(double start, object setup):
    cdef Stamps s = Stamps.__new__(Stamps)
    s.start = start
    s.setup = setup
    return s
