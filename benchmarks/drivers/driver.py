"""Benchmark driver: runs one client on one scenario in a fresh process and prints one JSON line.

Run with the client's own venv interpreter:
    driver.py CLIENT --scenario NAME --url BASE --n N [--loop asyncio|uvloop] [--ca PEM] ...
CLIENT names an adapter module beside this file (floor, aiohttp_client, httpx_client,
pyreqwest_client, pyqwest_api, urllib3_client, requests_client, niquests_client). An adapter
provides `version()` and `async open_client(cfg)` returning a session with `get(url)`,
`post(url, data)`, `stream(url)` (each -> (status, body length)) and `aclose()`; for the sync
scenarios (`--loop sync`), `open_sync_client(cfg)` returning a session with a blocking
`get(url)` and `close()`, shared by the scenario's threads. Either may raise Unsupported.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib
import json
import os
import resource
import sys
import threading
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # adapters beside us, scenarios.py one level up

from common import Config, Unsupported  # noqa: E402
from scenarios import PROTO_LEN, SCENARIOS, Scenario  # noqa: E402


class BadResponse(Exception):
    pass


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("client")
    p.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    p.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:8080")
    p.add_argument("--n", type=int, default=0, help="timed requests (default: the scenario's)")
    p.add_argument("--warmup", type=int, default=-1, help="untimed requests first (default n/10)")
    p.add_argument("--max-seconds", type=float, default=0, help="stop the timed loop early")
    p.add_argument("--loop", choices=("asyncio", "uvloop", "sync"), default="asyncio")
    p.add_argument("--ca", help="PEM file of the CA that signed the server certificate")
    p.add_argument("--proxy", help="http:// URL of the CONNECT proxy to send requests through")
    p.add_argument("--server-pids", default="", help="comma list: their CPU is sampled too")
    return p.parse_args(argv)


def proc_cpu_s(pids: list[int]) -> float:
    """user+sys seconds of other processes (the server), from /proc; 0 where unreadable."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (all threads)
    return total / os.sysconf("SC_CLK_TCK")


def bind_request(session: object, sc: Scenario, url: str):
    """The per-request call, bound once so the timed loop does no dispatching."""
    if sc.method == "POST":
        return functools.partial(session.post, url, bytes(sc.upload))
    if sc.stream:
        return functools.partial(session.stream, url)
    return functools.partial(session.get, url)


def check(status: int, nbytes: int, expect: int, what: str = "response") -> None:
    """A response must be a 200 of the expected length (for /proto: the server saw the
    intended HTTP version)."""
    if status != 200 or nbytes != expect:
        raise BadResponse(f"{what}: got status {status} with {nbytes} bytes, wanted 200/{expect}")


async def run_loop(call, total: int, conc: int, expect: int, deadline_ns: int) -> list[int]:
    """`total` requests over `conc` closed-loop workers; returns per-request latencies in ns."""
    lat: list[int] = []
    clock = time.perf_counter_ns

    async def worker(k: int) -> None:
        for _ in range(k):
            t0 = clock()
            status, nbytes = await call()
            t1 = clock()
            check(status, nbytes, expect)
            lat.append(t1 - t0)
            if t1 > deadline_ns:
                return

    if conc == 1:
        await worker(total)
    else:
        await asyncio.gather(*(worker(total // conc + (i < total % conc)) for i in range(conc)))
    return lat


def run_threads(call, total: int, threads: int, expect: int, deadline_ns: int) -> list[int]:
    """`total` blocking requests over `threads` closed-loop threads; latencies in ns."""
    lat: list[int] = []
    errors: list[BaseException] = []
    clock = time.perf_counter_ns

    def worker(k: int) -> None:
        try:
            for _ in range(k):
                t0 = clock()
                status, nbytes = call()
                t1 = clock()
                check(status, nbytes, expect)
                lat.append(t1 - t0)  # list.append is atomic
                if t1 > deadline_ns:
                    return
        except BaseException as exc:
            errors.append(exc)

    if threads == 1:
        worker(total)
    else:
        ts = [threading.Thread(target=worker, args=(total // threads + (i < total % threads),))
              for i in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    if errors:
        raise errors[0]
    return lat


def percentile(sorted_vals: list[int], q: float) -> float:
    return sorted_vals[min(len(sorted_vals) - 1, int(q * len(sorted_vals)))]


def config_of(args: argparse.Namespace, sc: Scenario) -> Config:
    """What the adapter is told about the scenario."""
    return Config(
        http=sc.http,
        tls=args.url.startswith("https:"),
        concurrency=sc.concurrency,
        ca_path=args.ca,
        proxy=args.proxy,
    )


async def bench(args: argparse.Namespace, adapter) -> dict:
    sc = SCENARIOS[args.scenario]
    n = args.n or sc.n
    warmup = args.warmup if args.warmup >= 0 else max(2 * sc.concurrency, n // 10)
    cfg = config_of(args, sc)
    session = await adapter.open_client(cfg)
    try:
        call = bind_request(session, sc, args.url + sc.path)
        budget = args.max_seconds or 1e9
        # Warm-up: connections opened (all `concurrency` of them), caches and code paths hot.
        await run_loop(
            call, warmup, sc.concurrency, sc.expect, time.perf_counter_ns() + int(budget / 2 * 1e9)
        )
        # The protocol the server actually saw, so an h2 row can never be h1 in disguise.
        check(*await session.get(args.url + "/proto"), PROTO_LEN[sc.http], "protocol")

        pids = [int(p) for p in args.server_pids.split(",") if p]
        srv0 = proc_cpu_s(pids)
        r0 = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
        t0 = time.perf_counter()
        lat = await run_loop(
            call, n, sc.concurrency, sc.expect, time.perf_counter_ns() + int(budget * 1e9)
        )
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        srv1 = proc_cpu_s(pids)
        idle = idle_state()
    finally:
        await session.aclose()

    return {**measured(lat, wall, r0, r1, srv1 - srv0, bool(pids)), **idle}


def bench_sync(args: argparse.Namespace, adapter) -> dict:
    """The same measurement for a blocking client, its requests on `concurrency` threads."""
    sc = SCENARIOS[args.scenario]
    n = args.n or sc.n
    warmup = args.warmup if args.warmup >= 0 else max(2 * sc.concurrency, n // 10)
    cfg = config_of(args, sc)
    open_sync = getattr(adapter, "open_sync_client", None)
    if open_sync is None:
        raise Unsupported("no sync client")
    session = open_sync(cfg)
    try:
        call = functools.partial(session.get, args.url + sc.path)
        budget = args.max_seconds or 1e9
        run_threads(call, warmup, sc.concurrency, sc.expect,
                    time.perf_counter_ns() + int(budget / 2 * 1e9))
        check(*session.get(args.url + "/proto"), PROTO_LEN[sc.http], "protocol")
        pids = [int(p) for p in args.server_pids.split(",") if p]
        srv0 = proc_cpu_s(pids)
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        lat = run_threads(call, n, sc.concurrency, sc.expect,
                          time.perf_counter_ns() + int(budget * 1e9))
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        srv1 = proc_cpu_s(pids)
        idle = idle_state()
    finally:
        session.close()
    return {**measured(lat, wall, r0, r1, srv1 - srv0, bool(pids)), **idle}


def measured(lat: list[int], wall: float, r0, r1, server_cpu: float, has_server: bool) -> dict:
    """The result line of a timed loop."""
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    done = len(lat)
    lat.sort()
    return {
        "requests": done,
        "wall_s": wall,
        "cpu_s": cpu,
        "cpu_us_per_req": cpu / done * 1e6,
        "rps": done / wall,
        "p50_us": percentile(lat, 0.50) / 1e3,
        "p99_us": percentile(lat, 0.99) / 1e3,
        "client_cpu_pct": 100 * cpu / wall,
        "server_cpu_pct": 100 * server_cpu / wall if has_server else None,
        # involuntary context switches: in a one-thread client, how often other work on the
        # machine took our CPU away (with runtime threads on the same CPU they preempt each other)
        "preempted": r1.ru_nivcsw - r0.ru_nivcsw,
        "threads": len(os.listdir("/proc/self/task")),
    }


def idle_state() -> dict:
    """Memory and fds right after the timed loop: every connection idle in the pool, none
    closed yet (--scaling reports memory per idle connection from it); and the peak RSS."""
    status = dict(ln.split(":", 1) for ln in Path("/proc/self/status").read_text().splitlines())
    kib = {k: int(status[k].split()[0]) for k in ("VmRSS", "VmHWM")}  # now, and the peak
    fds = len(os.listdir("/proc/self/fd"))
    return {"rss_kib": kib["VmRSS"], "max_rss_kib": kib["VmHWM"], "open_fds": fds}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out: dict = {"client": args.client, "scenario": args.scenario, "loop": args.loop}
    try:
        adapter = importlib.import_module(args.client)
        out["version"] = adapter.version()
        if args.loop == "sync" or SCENARIOS[args.scenario].sync:
            out.update(bench_sync(args, adapter))
        else:
            if args.loop == "uvloop":
                try:
                    import uvloop
                except ImportError:  # a sync-only client's venv has none
                    raise Unsupported("uvloop is not installed in this client's venv") from None

                out["uvloop"] = uvloop.__version__
                factory = uvloop.new_event_loop
            else:
                factory = None
            with asyncio.Runner(loop_factory=factory) as runner:
                out.update(runner.run(bench(args, adapter)))
    except Unsupported as e:
        out["unsupported"] = str(e)
    except Exception as e:  # reported to the runner in the JSON, with the traceback on stderr
        traceback.print_exc()
        out["error"] = f"{type(e).__name__}: {e}"
        print(json.dumps(out), flush=True)
        return 1
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
