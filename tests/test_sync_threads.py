"""One SyncHTTPTransport shared by threads (spec §2 "Blocking calls release the GIL and work
from any thread"; issue 12): no cross-talk, blocked reads let other threads run, and close()
from another thread wakes a blocked reader with ReadError."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from servers.scripted import keep_alive

from pyqwest import ReadError, SyncClient


def test_sixteen_threads_share_one_transport(make_sync_transport, http_server):
    client = SyncClient(make_sync_transport(timeout=30))

    def worker(n: int) -> list[tuple[str, bytes]]:
        out = []
        for i in range(20):
            tag = f"{n}-{i}"
            resp = client.post(http_server.url + "/echo", {"x-tag": tag}, tag.encode())
            out.append((resp.headers["x-echo-x-tag"], resp.content))
        return out

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(worker, range(16)))
    for n, pairs in enumerate(results):
        assert pairs == [(f"{n}-{i}", f"{n}-{i}".encode()) for i in range(20)]


def test_pool_keeps_connections_per_thread_demand(make_sync_transport, scripted):
    scripted.handler = keep_alive(b"ok")
    client = SyncClient(make_sync_transport(timeout=30))
    barrier = threading.Barrier(4)

    def worker(_: int) -> None:
        barrier.wait(10)
        for _ in range(10):
            assert client.get(scripted.url + "/").content == b"ok"

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(worker, range(4)))
    # connections are reused: at most one per concurrently active thread
    assert scripted.accepted <= 4


def test_cpu_bound_thread_runs_while_others_block(make_sync_transport, scripted):
    """8 threads block in reads; the server answers only once a CPU-bound thread has done its
    work. Were the GIL held during the blocked reads, that work could not finish first."""
    cpu_done = threading.Event()
    requests_seen = threading.Semaphore(0)

    async def handler(conn):
        while await conn.read_request() is not None:
            requests_seen.release()
            await asyncio.get_running_loop().run_in_executor(None, cpu_done.wait, 20)
            await conn.send_response(200, b"after" if cpu_done.is_set() else b"too late")

    scripted.handler = handler
    client = SyncClient(make_sync_transport(timeout=30))
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(client.get, scripted.url + "/") for _ in range(8)]
        for _ in range(8):
            assert requests_seen.acquire(timeout=10)
        units = 0
        for _ in range(200_000):  # pure-Python work
            units += 1
        finished_first = not any(f.done() for f in futures)
        cpu_done.set()
        bodies = [f.result(30).content for f in futures]
    assert units == 200_000
    assert finished_first
    assert bodies == [b"after"] * 8


def wait_until(predicate, seconds: float = 5.0) -> bool:
    for _ in range(int(seconds / 0.01)):
        if predicate():
            return True
        threading.Event().wait(0.01)
    return predicate()


def _blocked_reader(resp) -> tuple[threading.Thread, list[BaseException]]:
    """A thread blocked in next(resp.content); the errors it raised."""
    errors: list[BaseException] = []

    def read() -> None:
        try:
            list(resp.content)
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=read)
    t.start()
    assert wait_until(lambda: resp._read_pending)
    return t, errors


def test_response_close_from_another_thread_wakes_reader(sync_client, http_server):
    resp = sync_client.stream("GET", http_server.url + "/stall").__enter__()
    reader, errors = _blocked_reader(resp)
    resp.close()
    reader.join(5)
    assert not reader.is_alive()
    assert [type(e) for e in errors] == [ReadError]
    assert resp._read_pending is False


def test_transport_close_from_another_thread_wakes_reader(make_sync_transport, http_server):
    transport = make_sync_transport()
    resp = SyncClient(transport).stream("GET", http_server.url + "/stall").__enter__()
    reader, errors = _blocked_reader(resp)
    transport.close()
    reader.join(5)
    assert not reader.is_alive()
    assert [type(e) for e in errors] == [ReadError]
    resp.close()


def test_transport_close_wakes_a_thread_waiting_for_the_head(make_sync_transport, scripted):
    scripted.handler = lambda conn: conn.hang()
    transport = make_sync_transport()
    errors: list[BaseException] = []

    def request() -> None:
        try:
            SyncClient(transport).get(scripted.url + "/")
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=request)
    t.start()
    assert wait_until(lambda: scripted.accepted)
    threading.Event().wait(0.1)  # the request is written; the thread waits for the head
    transport.close()
    t.join(5)
    assert not t.is_alive()
    assert [type(e) for e in errors] == [ReadError]


def test_no_thread_left_behind(sync_client, http_server):
    """Uploads run on worker threads that end with their exchange."""
    before = threading.active_count()
    for _ in range(5):
        sync_client.post(http_server.url + "/echo", content=iter([b"a", b"b"]))
    assert wait_until(lambda: threading.active_count() <= before)
