"""Load mode (-n N -c C): the same request N times, C in flight, and a latency summary."""

from __future__ import annotations

import asyncio
import math
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from .._client import Client
from .exits import Exit, Failure, classify
from .options import Options


def percentile(sorted_values: list[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0 < q <= 1) of an ascending, non-empty list."""
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class LoadResult:
    """What a load run measured: per-request latencies (successes only) and the failures."""

    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)

    def report(self) -> str:
        """The summary the command prints."""
        total = len(self.latencies) + len(self.failures)
        lines = [
            f"requests:    {total} ({len(self.failures)} failed)",
            f"elapsed:     {self.elapsed:.3f} s",
            f"throughput:  {total / self.elapsed if self.elapsed else 0.0:.1f} req/s",
        ]
        if self.latencies:
            lat = sorted(self.latencies)
            ms = {q: percentile(lat, q) * 1000 for q in (0.5, 0.9, 0.99)}
            lines.append(f"latency ms:  p50 {ms[0.5]:.3f}  p90 {ms[0.9]:.3f}  p99 {ms[0.99]:.3f}"
                         f"  max {lat[-1] * 1000:.3f}")
        if self.statuses:
            counts = ", ".join(f"{s} x{n}" for s, n in sorted(self.statuses.items()))
            lines.append(f"statuses:    {counts}")
        if self.failures:
            lines.append(f"first error: {self.failures[0]}")
        return "\n".join(lines) + "\n"


async def run_load(client: Client, opts: Options) -> LoadResult:
    """Send the request ``opts.requests`` times with ``opts.concurrency`` workers."""
    assert opts.requests is not None
    result = LoadResult()
    remaining = opts.requests
    method = opts.effective_method

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            start = time.perf_counter()
            try:
                resp = await client.execute(method, opts.url, opts.headers, opts.data)
            except Exception as exc:  # every failure class is counted, none stops the run
                result.failures.append(classify(exc))
                continue
            result.statuses[resp.status] += 1
            if opts.fail and resp.status >= 400:
                result.failures.append(Failure(
                    Exit.HTTP_RETURNED_ERROR, f"The requested URL returned error: {resp.status}"))
            else:
                result.latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(opts.concurrency, opts.requests))))
    result.elapsed = time.perf_counter() - start
    sys.stdout.write(result.report())
    return result
