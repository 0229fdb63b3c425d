"""Soak: many requests through one transport, with random faults and random cancellation.

CI runs a short mode (3,000 requests per event loop); set PYQWEST_SOAK_REQUESTS=100000 to run
the long one by hand (``-s`` shows the figures). A loopback scripted server picks its
behaviour from the request path: healthy (Content-Length, chunked, Connection: close, closing
the idle connection afterwards), slow or silent (the client's deadline cancels the request
before or inside the body), reset mid-body, truncated, garbage. Clients read buffered or
streamed, and sometimes abandon a stream half-read.

Checked: every request ends with the correct body or a typed error of the expected class; no
task is left pending; no file descriptor is open beyond the pool's idle connections (and none
at all once the transport is closed); no H1 connection object outlives the transport; RSS does
not grow past the warm-up (the figures are printed).
"""

from __future__ import annotations

import asyncio
import collections
import gc
import os
import random
import time
from typing import Any

import pytest
from fds import open_fds
from servers.scripted import Conn

from pyqwest import Client, ReadError, RemoteProtocolError, WriteError

REQUESTS = int(os.environ.get("PYQWEST_SOAK_REQUESTS", "3000"))
CONCURRENCY = 16
BLOB = random.Random(7).randbytes(1 << 20)
# RSS growth allowed between the end of warm-up and the end of the run
RSS_SLACK = 24 << 20

pytestmark = pytest.mark.timeout(max(120, REQUESTS // 20))


def body_for(n: int) -> bytes:
    start = (n * 7919) % (len(BLOB) - n)
    return BLOB[start : start + n]


def fds() -> int:
    return len(open_fds())


def rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def soak_server(conn: Conn) -> None:
    """Keep-alive; the path says what to do: /<action>/<size>."""
    conn.server.soak_accepted = getattr(conn.server, "soak_accepted", 0) + 1  # type: ignore[attr-defined]
    try:
        await _serve(conn)
    finally:
        conn.requests.clear()


def prune(server: Any) -> None:
    """Drop finished connections from the server's list (on its loop): the scripted server
    keeps every connection for introspection, which would show up as client RSS growth."""

    def run() -> None:
        server.connections[:] = [c for c in server.connections if not c.done.is_set()]

    server._lt.loop.call_soon_threadsafe(run)


async def _serve(conn: Conn) -> None:
    while True:
        req = await conn.read_request()
        if req is None:
            return
        _, action, size = req.target.split("/")
        n = int(size)
        body = body_for(n)
        if action == "ok":
            await conn.send_response(200, body)
        elif action == "chunked":
            step = max(1, n // 4)
            data = b"".join(
                b"%x\r\n%s\r\n" % (len(body[i : i + step]), body[i : i + step])
                for i in range(0, n, step)
            )
            await conn.send_response(
                200, data + b"0\r\nx-sum: %d\r\n\r\n" % n, [("transfer-encoding", "chunked")]
            )
        elif action == "close":
            await conn.send_response(200, body, close=True)
            await conn.close()
            return
        elif action == "idleclose":
            await conn.send_response(200, body)
            await asyncio.sleep(0.002)
            await conn.close()
            return
        elif action == "slow":
            await conn.send(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % n)
            for i in range(0, n, 1024):
                await conn.send(body[i : i + 1024])
                await asyncio.sleep(0.01)
        elif action == "stall":
            await conn.hang(5)
            return
        elif action == "reset":
            await conn.send(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % (n + 10))
            await conn.send(body)
            await asyncio.sleep(0.005)
            conn.rst()
            return
        elif action == "trunc":
            await conn.send(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % (n + 10) + body)
            await conn.close()
            return
        elif action == "garbage":
            await conn.send(b"HTTP/1.1 boom\r\n\r\n")
            await conn.close()
            return
        else:
            raise AssertionError(action)


# action -> (weight, errors it may end with besides TimeoutError from our own deadline)
ACTIONS: dict[str, tuple[int, tuple[type[BaseException], ...]]] = {
    "ok": (40, ()),
    "chunked": (15, ()),
    "close": (8, ()),
    "idleclose": (8, ()),
    "slow": (6, ()),
    "stall": (3, ()),
    "reset": (7, (ReadError, RemoteProtocolError)),
    "trunc": (7, (RemoteProtocolError,)),
    "garbage": (6, (RemoteProtocolError,)),
}
NAMES = list(ACTIONS)
WEIGHTS = [ACTIONS[a][0] for a in NAMES]


async def one_request(client: Client, base: str, rng: random.Random, stats: collections.Counter):
    action = rng.choices(NAMES, WEIGHTS)[0]
    n = rng.choice([0, 1, 100, 1000, 5000, 20_000, 70_000])
    if action in ("slow",):
        n = max(n, 4096)
    url = f"{base}/{action}/{n}"
    mode = rng.choice(["get", "post", "stream", "stream", "abandon"])
    deadline = None
    if action in ("slow", "stall"):
        deadline = rng.choice([0.001, 0.01, 0.03])
    elif rng.random() < 0.05:
        deadline = rng.choice([0.0005, 0.002])  # may cancel anywhere, or not at all
    rng.last[rng.seed_id] = f"{mode} {url} deadline={deadline}"  # type: ignore[attr-defined]
    expected = body_for(n)
    allowed = ACTIONS[action][1]
    if mode == "post":
        # a POST on a connection that dies under it is not retried: it may fail typed
        allowed = (*allowed, RemoteProtocolError, ReadError, WriteError)
    try:
        async with asyncio.timeout(deadline):
            if mode == "get":
                resp = await client.get(url)
                got, trailers = resp.content, resp.trailers
            elif mode == "post":
                resp = await client.post(url, content=b"p" * rng.choice([0, 10, 3000]))
                got, trailers = resp.content, resp.trailers
            else:
                async with client.stream("GET", url) as sresp:
                    parts = []
                    async for chunk in sresp.content:
                        parts.append(bytes(chunk))
                        if mode == "abandon" and rng.random() < 0.5:
                            break
                    got, trailers = b"".join(parts), sresp.trailers
        if mode == "abandon":
            assert expected.startswith(got), (url, len(got))
        else:
            assert got == expected, (url, len(got), len(expected))
            if action == "chunked":
                assert trailers["x-sum"] == str(n)
        assert action not in ("stall", "reset", "trunc", "garbage") or mode == "abandon", url
        stats[f"{action}:ok"] += 1
    except TimeoutError:
        assert deadline is not None, url
        stats[f"{action}:timeout"] += 1
    except allowed as exc:
        stats[f"{action}:{type(exc).__name__}"] += 1


def h1_connections() -> int:
    from cpqwest._protocol import H1Connection

    return sum(1 for o in gc.get_objects() if isinstance(o, H1Connection))


async def test_soak(make_transport, scripted):
    scripted.handler = soak_server
    base = scripted.url
    rng = random.Random(int(os.environ.get("PYQWEST_SOAK_SEED", "1")))
    stats: collections.Counter[str] = collections.Counter()
    # warm the loop up first (uvloop opens its resolver threadpool's fds on first use)
    warm = make_transport()
    assert (await Client(warm).get(base + "/ok/10")).content == body_for(10)
    await warm.aclose()
    await scripted.wait_for(
        lambda: all(c.done.is_set() for c in scripted.connections), 10, "warm-up to close"
    )
    gc.collect()
    fds_before = fds()
    conns_before = h1_connections()
    transport = make_transport(pool_idle_timeout=30)
    client = Client(transport)
    warmup = max(500, REQUESTS // 10)
    remaining = REQUESTS
    lock_rss: dict[str, int] = {}
    started = time.monotonic()

    last: dict[int, str] = {}

    async def worker(seed: int) -> None:
        nonlocal remaining
        wrng = random.Random(seed)
        wrng.last = last  # type: ignore[attr-defined]
        wrng.seed_id = seed  # type: ignore[attr-defined]
        while remaining > 0:
            remaining -= 1
            try:
                # a guard far above any deadline here: a request that hangs is a finding
                await asyncio.wait_for(one_request(client, base, wrng, stats), 20)
            except TimeoutError:
                raise AssertionError(f"request hung: {last[seed]}") from None
            if remaining % 500 == 0:
                prune(scripted)
            if remaining == REQUESTS - warmup:
                gc.collect()
                lock_rss["warm"] = rss()

    await asyncio.gather(*(worker(rng.randrange(1 << 30)) for _ in range(CONCURRENCY)))
    elapsed = time.monotonic() - started
    await asyncio.sleep(0.1)  # let aborted connections' close callbacks run
    gc.collect()
    rss_end = rss()

    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not pending, pending
    idle = transport._h1.current_pool().idle_count()
    open_fds = fds() - fds_before
    # each idle connection is two fds in this process (the server runs on a thread here);
    # server sides of connections the client just dropped may still be closing
    await scripted.wait_for(
        lambda: fds() - fds_before <= 2 * idle, 10, "fds beyond the pool's to close"
    )
    await transport.aclose()
    await scripted.wait_for(lambda: fds() <= fds_before, 10, "every fd to close")
    await asyncio.sleep(0)
    gc.collect()
    leaked = h1_connections() - conns_before
    growth = rss_end - lock_rss.get("warm", rss_end)
    print(
        f"\nsoak[{type(asyncio.get_running_loop()).__module__}]: {REQUESTS} requests in "
        f"{elapsed:.1f}s ({REQUESTS / elapsed:.0f}/s), {scripted.soak_accepted} connections; "
        f"RSS after warm-up {lock_rss.get('warm', 0) / 2**20:.1f} MiB -> end "
        f"{rss_end / 2**20:.1f} MiB ({growth / 2**20:+.1f}); fds beyond baseline before close "
        f"{open_fds} (idle {idle}), after close {fds() - fds_before}; "
        f"H1 connections alive after close {leaked}"
    )
    print("outcomes:", dict(sorted(stats.items())))
    assert sum(stats.values()) == REQUESTS
    assert leaked <= 0
    assert growth < RSS_SLACK
    # every fault kind was exercised
    for action in ACTIONS:
        assert any(k.startswith(action + ":") for k in stats), action
