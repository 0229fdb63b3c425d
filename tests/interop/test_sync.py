"""The sync API (SyncClient on SyncHTTPTransport) against each real server, in each mode: the
transfers of test_transfers.py and the connection lifecycles of test_connections.py, from
threads where the async checks run tasks."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from .site import DOWNLOAD_SIZES, LARGE, TEXT, blob, text
from .targets import h2, targets, targets_each
from .test_connections import CONCURRENCY, RELOAD_EVERY, RELOAD_RACES, RELOADS, limited
from .test_transfers import (
    CONDITIONS,
    NO_LENGTH_H3,
    PIECE,
    UPLOAD_LARGE,
    UPLOAD_SIZES,
    validators,
)


def pieces(data: bytes) -> Iterator[bytes]:
    for i in range(0, len(data), PIECE):
        yield data[i : i + PIECE]


def in_threads(count: int, threads: int, one: Callable[[int], None]) -> None:
    """`one(i)` for i in range(count) from `threads` threads; the first failure raised."""
    with ThreadPoolExecutor(threads) as pool:
        for result in [pool.submit(one, i) for i in range(count)]:
            result.result()


# --- transfers ------------------------------------------------------------------------------


@pytest.mark.parametrize("sync_target", targets(), indirect=True)
def test_download(sync_target):
    for size in DOWNLOAD_SIZES:
        r = sync_target.client.get(sync_target.url(f"/{size}.bin"))
        assert (r.status, len(r.content)) == (200, size)
        assert r.content == blob(size), f"{size} B differ"


@pytest.mark.parametrize("sync_target", targets(), indirect=True)
def test_download_large_streamed(sync_target):
    digest = hashlib.sha256()
    with sync_target.client.stream("GET", sync_target.url(f"/{LARGE}.bin")) as r:
        assert r.status == 200
        assert r.http_version == sync_target.version
        for chunk in r.content:
            digest.update(chunk)
    assert digest.digest() == hashlib.sha256(blob(LARGE)).digest()


@pytest.mark.parametrize("sync_target", targets(), indirect=True)
def test_upload(sync_target):
    for size in UPLOAD_SIZES:
        data = blob(size)
        r = sync_target.client.post(sync_target.url("/echo"), content=data)
        assert (r.status, len(r.content)) == (200, size)
        assert r.content == data, f"{size} B differ"


@pytest.mark.parametrize("sync_target", targets(xfail=NO_LENGTH_H3), indirect=True)
def test_upload_large_streamed(sync_target):
    data = blob(UPLOAD_LARGE)
    r = sync_target.client.post(sync_target.url("/echo"), content=pieces(data))
    assert (r.status, len(r.content)) == (200, len(data))
    assert r.content == data


@pytest.mark.parametrize(
    "sync_target", targets(lambda server, mode, features: features.ranges), indirect=True
)
def test_range(sync_target):
    r = sync_target.client.get(sync_target.url(f"/{TEXT}"), {"range": "bytes=1000-1999"})
    assert (r.status, r.content) == (206, text()[1000:2000])


@pytest.mark.parametrize(
    ("sync_target", "validator"), targets_each(validators), indirect=["sync_target"]
)
def test_conditional_get_is_304(sync_target, validator):
    url = sync_target.url("/1000.bin")
    value = sync_target.client.get(url).headers[validator]
    r = sync_target.client.get(url, {CONDITIONS[validator]: value})
    assert (r.status, r.content) == (304, b"")
    assert sync_target.client.get(url).content == blob(1000)


@pytest.mark.parametrize(
    ("sync_target", "coding"), targets_each(lambda features: features.codings),
    indirect=["sync_target"],
)
def test_coding_decoded(sync_target, coding):
    r = sync_target.client.get(sync_target.url(f"/{TEXT}"), {"accept-encoding": coding})
    assert r.content == text()


# --- connection lifecycles ------------------------------------------------------------------


@pytest.mark.parametrize("sync_target", targets(limited), indirect=True)
def test_server_request_limit_fails_nothing(sync_target):
    """The server ends each connection after `max_requests`: sequential, then from threads."""
    url = sync_target.url("/1000.bin")
    total = 3 * sync_target.features.max_requests
    for _ in range(total):
        assert sync_target.client.get(url).content == blob(1000)

    def get(_: int) -> None:
        assert sync_target.client.get(url).content == blob(1000)

    in_threads(total, CONCURRENCY, get)


@pytest.mark.parametrize(
    "sync_target", targets(lambda s, m, f: h2(s, m, f) and f.max_requests is not None),
    indirect=True,
)
def test_post_across_connection_rotation(sync_target):
    """POSTs above a rotating server's last-stream-id go again on a new connection."""
    url = sync_target.url("/echo")

    def post(i: int) -> None:
        body = b"%d" % i
        assert sync_target.client.post(url, content=body).content == body

    in_threads(20 * sync_target.features.max_requests, CONCURRENCY, post)


@pytest.mark.parametrize(
    "sync_target", targets(lambda s, m, f: f.idle_timeout is not None), indirect=True
)
def test_server_idle_close_fails_nothing(sync_target):
    url = sync_target.url("/1000.bin")
    assert sync_target.client.get(url).content == blob(1000)
    time.sleep(sync_target.features.idle_timeout + 0.5)  # the server closes it
    assert sync_target.client.get(url).content == blob(1000)


def under_reloads(target, one: Callable[[int, int], None]) -> int:
    """`one(worker, i)` over and over from 16 threads while the server reloads twice; the
    number of calls that succeeded (the first failure raised)."""
    stop = threading.Event()
    done = [0] * CONCURRENCY

    def load(worker: int) -> None:
        while not stop.is_set():
            one(worker, done[worker])
            done[worker] += 1

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        workers = [pool.submit(load, i) for i in range(CONCURRENCY)]
        try:
            for _ in range(RELOADS):
                stop.wait(RELOAD_EVERY)
                target.server.reload()
            stop.wait(RELOAD_EVERY)
        finally:
            stop.set()
        for w in workers:
            w.result()
    return sum(done)


@pytest.mark.parametrize(
    "sync_target", targets(lambda s, m, f: f.reload, xfail_sometimes=RELOAD_RACES),
    indirect=True,
)
def test_graceful_reload_under_load_fails_no_get(sync_target):
    """GETs on connections the reload retires: answered, or retried on a new connection."""
    url = sync_target.url("/65537.bin")

    def get(_worker: int, _i: int) -> None:
        assert sync_target.client.get(url).content == blob(65537)

    assert under_reloads(sync_target, get) > CONCURRENCY


@pytest.mark.parametrize(
    "sync_target",
    targets(lambda s, m, f: h2(s, m, f) and f.reload, xfail_sometimes=RELOAD_RACES),
    indirect=True,
)
def test_graceful_reload_under_load_fails_no_unprocessed_h2_post(sync_target):
    """POSTs above the reload GOAWAY's last-stream-id go again on a new connection."""
    url = sync_target.url("/echo")

    def post(worker: int, i: int) -> None:
        body = b"%d-%d" % (worker, i)
        assert sync_target.client.post(url, content=body).content == body

    assert under_reloads(sync_target, post) > CONCURRENCY


@pytest.mark.parametrize(
    "sync_target", targets(lambda s, m, f: h2(s, m, f) and f.max_streams is not None),
    indirect=True,
)
def test_more_requests_than_stream_limit(sync_target):
    """32 threads on one connection to a server announcing 8 concurrent streams: all
    succeed, in the order they asked for a stream."""
    url = sync_target.url("/65537.bin")

    def get(_: int) -> None:
        assert sync_target.client.get(url).content == blob(65537)

    in_threads(64, 32, get)


@pytest.mark.parametrize("sync_target", targets(h2), indirect=True)
def test_cancelled_downloads_spare_bystander(sync_target):
    """20 downloads closed mid-body next to one still running on the same connection: the
    server sees no reset flood and the bystander completes (defect 2)."""
    url = sync_target.url(f"/{LARGE}.bin")
    client = sync_target.client
    digest = hashlib.sha256()
    with client.stream("GET", url) as bystander:
        chunks = iter(bystander.content)
        digest.update(next(chunks))
        for _ in range(20):
            with client.stream("GET", url) as abandoned:
                next(iter(abandoned.content))
            digest.update(next(chunks, b""))
        for chunk in chunks:
            digest.update(chunk)
    assert digest.digest() == hashlib.sha256(blob(LARGE)).digest()
    assert client.get(sync_target.url("/1000.bin")).content == blob(1000)
