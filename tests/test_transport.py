"""pyqwest.HTTPTransport (spec 1.10; section 0 pooling and stale-connection retry rules)."""

from __future__ import annotations

import asyncio
import gc
import math
import re
import warnings

import pytest
from fds import HAVE_PROC, open_fds
from servers.scripted import keep_alive, relay

import pyqwest
from pyqwest import Client, HTTPTransport, HTTPVersion, Request, get_default_transport

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None


async def conn_port(client: Client, url: str) -> int:
    resp = await client.get(url)
    assert resp.status == 200
    return int(resp.headers["x-conn-port"])


async def agen(chunks):
    for c in chunks:
        yield c


# --- default transport -----------------------------------------------------------------------


def test_default_transport_is_singleton():
    t = get_default_transport()
    assert t is get_default_transport()
    assert isinstance(t, HTTPTransport)


async def test_default_client_plain_http(http_server):
    resp = await Client().get(http_server.url + "/echo")
    assert resp.status == 200


async def test_default_transport_aclose_is_noop(http_server):
    await get_default_transport().aclose()
    resp = await Client(get_default_transport()).get(http_server.url + "/echo")
    assert resp.status == 200


def test_transport_made_without_loop_works_across_asyncio_runs(http_server):
    """Pools are per running loop: a second asyncio.run() never gets a dead loop's connection."""
    t = HTTPTransport()
    c = Client(t)

    async def once() -> int:
        return await conn_port(c, http_server.url + "/conn")

    ports = [asyncio.run(once()), asyncio.run(once())]
    if uvloop is not None:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            ports.append(runner.run(once()))
            ports.append(runner.run(once()))
        assert ports[2] == ports[3]  # same loop -> reused
    assert ports[0] != ports[1]
    asyncio.run(t.aclose())


def test_import_time_default_client_across_asyncio_runs(http_server):
    c = Client()

    async def once() -> int:
        return (await c.get(http_server.url + "/echo")).status

    assert asyncio.run(once()) == 200
    assert asyncio.run(once()) == 200


# --- statuses --------------------------------------------------------------------------------


async def test_statuses_verbatim(client, http_server):
    for code in range(200, 599):
        resp = await client.get(http_server.url + f"/status/{code}")
        assert resp.status == code
        if code not in (204, 304):
            assert resp.content == f"status {code}".encode()
        else:
            assert resp.content == b""


# --- keep-alive and pool ---------------------------------------------------------------------


async def test_sequential_requests_share_connection(client, http_server):
    ports = [await conn_port(client, http_server.url + "/conn") for _ in range(5)]
    assert len(set(ports)) == 1


async def test_keep_alive_counted_by_raw_server(client, scripted):
    scripted.handler = keep_alive()
    for _ in range(5):
        assert (await client.get(scripted.url + "/")).content == b"ok"
    assert scripted.accepted == 1
    assert len(scripted.connections[0].requests) == 5


async def test_concurrent_requests_use_separate_connections(client, http_server):
    ports = await asyncio.gather(
        *(conn_port(client, http_server.url + "/conn?delay=0.3") for _ in range(3))
    )
    assert len(set(ports)) == 3


async def test_pool_max_idle_per_host_one(make_transport, http_server):
    client = Client(make_transport(pool_max_idle_per_host=1))
    first = await asyncio.gather(
        *(conn_port(client, http_server.url + "/conn?delay=0.3") for _ in range(3))
    )
    assert len(set(first)) == 3
    after = [await conn_port(client, http_server.url + "/conn") for _ in range(3)]
    assert len(set(after)) == 1
    assert after[0] in first


async def test_pool_max_idle_per_host_none_keeps_all(make_transport, http_server):
    client = Client(make_transport(pool_max_idle_per_host=None))
    first = set(
        await asyncio.gather(
            *(conn_port(client, http_server.url + "/conn?delay=0.3") for _ in range(4))
        )
    )
    assert len(first) == 4
    second = set(
        await asyncio.gather(
            *(conn_port(client, http_server.url + "/conn?delay=0.3") for _ in range(4))
        )
    )
    assert second == first


async def test_pool_max_idle_per_host_zero_never_reuses(make_transport, scripted):
    scripted.handler = keep_alive()
    client = Client(make_transport(pool_max_idle_per_host=0))
    for _ in range(3):
        await client.get(scripted.url + "/")
    assert scripted.accepted == 3


async def test_pool_idle_timeout_evicts(make_transport, http_server):
    client = Client(make_transport(pool_idle_timeout=0.2))
    a = await conn_port(client, http_server.url + "/conn")
    assert await conn_port(client, http_server.url + "/conn") == a
    await asyncio.sleep(0.6)
    b = await conn_port(client, http_server.url + "/conn")
    assert b != a


async def test_pool_idle_timeout_closes_idle_socket(make_transport, scripted):
    scripted.handler = keep_alive()
    client = Client(make_transport(pool_idle_timeout=0.2))
    await client.get(scripted.url + "/")
    conn = scripted.connections[0]
    # the handler waits for the next request; when the pool drops the idle connection the
    # server reads EOF and the handler finishes.
    await scripted.wait_done(conn, timeout=5)


async def test_unread_streamed_body_not_reused(client, http_server):
    async with client.stream("GET", http_server.url + "/conn?size=8000000") as resp:
        first = int(resp.headers["x-conn-port"])
        await resp.content.__anext__()
    second = await conn_port(client, http_server.url + "/conn")
    assert second != first


async def test_fully_read_streamed_body_reused(client, http_server):
    async with client.stream("GET", http_server.url + "/conn?size=100000") as resp:
        first = int(resp.headers["x-conn-port"])
        async for _ in resp.content:
            pass
    assert await conn_port(client, http_server.url + "/conn") == first


async def test_connection_close_response_not_reused(client, http_server):
    a = await conn_port(client, http_server.url + "/conn?close=1")
    b = await conn_port(client, http_server.url + "/conn")
    assert a != b


async def test_connection_close_request_header_not_reused(client, scripted):
    scripted.handler = keep_alive()
    await client.get(scripted.url + "/", {"connection": "close"})
    await client.get(scripted.url + "/")
    assert scripted.accepted == 2


async def test_separate_hosts_separate_connections(client, http_server):
    a = await conn_port(client, f"http://127.0.0.1:{http_server.port}/conn")
    b = await conn_port(client, f"http://localhost:{http_server.port}/conn")
    assert a != b
    assert await conn_port(client, f"http://localhost:{http_server.port}/conn") == b


# --- stale connection retry (section 0) ------------------------------------------------------


def _stale_after_first(after: str):
    """First connection: one good response, then the server fails the next request
    (``after``); every later connection is healthy."""
    bad = keep_alive(b"first", max_requests=1, after=after)
    good = keep_alive(b"fresh")

    async def handler(conn):
        await (bad if conn.index == 0 else good)(conn)

    return handler


@pytest.mark.parametrize("after", ["read-close", "read-rst", "close"])
@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"])
async def test_stale_connection_idempotent_retried(client, scripted, method, after):
    scripted.handler = _stale_after_first(after)
    assert (await client.get(scripted.url + "/")).content == b"first"
    if after == "close":
        await scripted.wait_done(scripted.connections[0])
    resp = await client.execute(
        method, scripted.url + "/", content=b"body" if method == "PUT" else None
    )
    assert resp.status == 200
    if method != "HEAD":
        assert resp.content == b"fresh"
    assert scripted.accepted == 2


async def test_stale_connection_post_not_retried(client, scripted):
    scripted.handler = _stale_after_first("read-close")
    assert (await client.get(scripted.url + "/")).content == b"first"
    with pytest.raises(pyqwest.RemoteProtocolError):
        await client.post(scripted.url + "/", content=b"data")
    assert scripted.accepted == 1


async def test_stale_connection_streamed_body_not_retried(client, scripted):
    scripted.handler = _stale_after_first("read-close")
    assert (await client.get(scripted.url + "/")).content == b"first"
    with pytest.raises(pyqwest.RemoteProtocolError):
        await client.put(scripted.url + "/", content=agen([b"a", b"b"]))
    assert scripted.accepted == 1


async def test_stale_connection_post_streamed_body_not_retried(client, scripted):
    scripted.handler = _stale_after_first("read-close")
    assert (await client.get(scripted.url + "/")).content == b"first"
    body_closed = asyncio.Event()

    async def body():
        try:
            yield b"a"
            yield b"b"
        finally:
            body_closed.set()

    with pytest.raises(pyqwest.RemoteProtocolError):
        await client.post(scripted.url + "/", content=body())
    assert scripted.accepted == 1
    await asyncio.wait_for(body_closed.wait(), 5)


async def test_fresh_connection_failure_not_retried(client, scripted):
    """Only reused connections are retried: a fresh one closed without a response fails."""

    async def handler(conn):
        await conn.read_request()
        await conn.close()

    scripted.handler = handler
    with pytest.raises(pyqwest.RemoteProtocolError):
        await client.get(scripted.url + "/")
    assert scripted.accepted == 1


# --- closing ---------------------------------------------------------------------------------


async def test_closed_transport_raises(make_transport, http_server):
    t = make_transport()
    await t.aclose()
    with pytest.raises(RuntimeError, match="already closed transport"):
        await t.execute(Request("GET", http_server.url + "/echo"))
    with pytest.raises(RuntimeError, match="already closed transport"):
        await Client(t).get(http_server.url + "/echo")


async def test_double_aclose(make_transport, http_server):
    t = make_transport()
    await Client(t).get(http_server.url + "/echo")
    await t.aclose()
    await t.aclose()


async def test_async_with_transport(http_server, ca_pem):
    async with HTTPTransport(tls_ca_cert=ca_pem) as t:
        assert isinstance(t, HTTPTransport)
        assert (await Client(t).get(http_server.url + "/echo")).status == 200
    with pytest.raises(RuntimeError, match="already closed transport"):
        await Client(t).get(http_server.url + "/echo")


async def test_aclose_closes_idle_connections(make_transport, scripted):
    scripted.handler = keep_alive()
    t = make_transport()
    await Client(t).get(scripted.url + "/")
    await t.aclose()
    await scripted.wait_done(scripted.connections[0], timeout=5)


@pytest.mark.parametrize(
    ("scheme", "version"),
    [("http", None), ("https", HTTPVersion.HTTP1), ("https", None), ("https", HTTPVersion.HTTP2)],
    ids=["http", "https-h1", "https-auto", "https-h2"],
)
async def test_aclose_closes_connections_through_relay(
    make_transport, scripted, http_server, https_server, scheme, version
):
    """Counted through a TCP relay in front of hypercorn: after aclose() the client side of
    every pooled connection (h1 or h2, plain or TLS) is closed."""
    upstream = https_server if scheme == "https" else http_server
    scripted.handler = relay(upstream.host, upstream.port)
    t = make_transport(http_version=version)
    client = Client(t)
    base = f"{scheme}://127.0.0.1:{scripted.port}"
    for _ in range(3):
        assert (await client.get(base + "/echo")).status == 200
    assert scripted.accepted == 1
    await t.aclose()
    await scripted.wait_client_eof(scripted.connections[0], timeout=5)


# --- dropped without aclose() ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "version"),
    [("http", None), ("https", HTTPVersion.HTTP1), ("https", None)],
    ids=["http", "https-h1", "https-h2"],
)
async def test_dropped_transport_closes_connections_and_warns(
    ca_pem, scripted, http_server, https_server, scheme, version
):
    upstream = https_server if scheme == "https" else http_server
    scripted.handler = relay(upstream.host, upstream.port)
    t = HTTPTransport(tls_ca_cert=ca_pem, http_version=version)
    assert (await Client(t).get(f"{scheme}://127.0.0.1:{scripted.port}/echo")).status == 200
    with pytest.warns(ResourceWarning, match="unclosed .*HTTPTransport"):
        del t
        gc.collect()
    await scripted.wait_client_eof(scripted.connections[0], timeout=5)


async def test_dropped_transport_without_connections_does_not_warn(ca_pem):
    t = HTTPTransport(tls_ca_cert=ca_pem)
    gc.collect()  # earlier tests' garbage has its own warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        del t
        gc.collect()


async def test_dropped_default_kind_of_transport_does_not_warn(http_server):
    # the process-wide default is never closed: it must not warn when it goes at exit
    t = type(get_default_transport())()
    assert (await Client(t).get(http_server.url + "/echo")).status == 200
    gc.collect()  # earlier tests' garbage has its own warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        del t
        gc.collect()


@pytest.mark.skipif(not HAVE_PROC, reason="counts fds in /proc")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
async def test_client_per_call_does_not_leak_sockets(ca_pem, scripted):
    scripted.handler = keep_alive()  # ends its side on the client's EOF

    async def one_call() -> None:
        assert (await Client(HTTPTransport(tls_ca_cert=ca_pem)).get(scripted.url)).status == 200

    await one_call()  # first-call allocations (resolver, loop internals)
    await scripted.wait_done(scripted.connections[0], timeout=5)
    before = len(open_fds())
    for _ in range(40):
        await one_call()
    for conn in scripted.connections:
        await scripted.wait_done(conn, timeout=5)
    assert scripted.accepted == 41
    assert len(open_fds()) - before < 5


async def test_execute_returns_streaming_response(transport, http_server):
    resp = await transport.execute(Request("GET", http_server.url + "/bytes/1000"))
    async with resp:
        assert resp.status == 200
        data = b"".join([bytes(c) async for c in resp.content])
    assert len(data) == 1000


# --- timeouts / cancellation -----------------------------------------------------------------


async def test_tiny_total_timeout(make_transport, http_server):
    client = Client(make_transport(timeout=0.001))
    with pytest.raises(TimeoutError):
        await client.get(http_server.url + "/stall?where=headers")


async def test_cancelling_execute_closes_body_generator(transport, scripted):
    closed = asyncio.Event()

    async def handler(conn):
        await conn.hang()

    scripted.handler = handler

    async def body():
        try:
            yield b"first"
            await asyncio.sleep(30)
        finally:
            closed.set()

    task = asyncio.ensure_future(
        transport.execute(Request("POST", scripted.url + "/", content=body()))
    )
    await scripted.wait_connections(1)
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(closed.wait(), 5)


async def test_dropping_unclosed_response_closes_body_generator(transport, http_server):
    closed = asyncio.Event()

    async def body():
        try:
            yield b"first"
            await asyncio.sleep(30)
        finally:
            closed.set()

    resp = await transport.execute(Request("POST", http_server.url + "/echo", content=body()))
    assert resp.status == 200
    del resp
    gc.collect()
    await asyncio.wait_for(closed.wait(), 5)


# --- option validation -----------------------------------------------------------------------

TIMEOUT_OPTIONS = [
    "timeout",
    "connect_timeout",
    "read_timeout",
    "pool_idle_timeout",
    "tcp_keepalive_interval",
]


@pytest.mark.parametrize("value", [-1, -0.5, math.inf, math.nan], ids=["-1", "-0.5", "inf", "nan"])
@pytest.mark.parametrize("option", TIMEOUT_OPTIONS)
def test_invalid_timeouts(option, value):
    with pytest.raises(ValueError, match=f"^{re.escape('Timeout must be non-negative')}$"):
        HTTPTransport(**{option: value})


@pytest.mark.parametrize("value", [0, 0.5, 10, None], ids=["0", "0.5", "10", "None"])
@pytest.mark.parametrize("option", TIMEOUT_OPTIONS)
async def test_valid_timeouts_accepted(option, value):
    t = HTTPTransport(**{option: value})
    await t.aclose()


@pytest.mark.parametrize("which", ["tls_key", "tls_cert"])
def test_mtls_requires_both(which, client_key_pem, client_cert_pem):
    value = client_key_pem if which == "tls_key" else client_cert_pem
    with pytest.raises(
        ValueError, match=f"^{re.escape('Both tls_key and tls_cert must be provided')}$"
    ):
        HTTPTransport(**{which: value})


async def test_all_options_accepted(ca_pem):
    t = HTTPTransport(
        tls_ca_cert=ca_pem,
        tls_include_system_certs=False,
        http_version=HTTPVersion.HTTP1,
        timeout=10.0,
        connect_timeout=5.0,
        read_timeout=5.0,
        pool_idle_timeout=None,
        pool_max_idle_per_host=4,
        tcp_keepalive_interval=None,
        enable_gzip=False,
        enable_brotli=False,
        enable_zstd=False,
        use_system_dns=True,
        enable_cookie_store=False,
        follow_redirects=False,
        max_redirects=3,
        enable_otel=False,
    )
    await t.aclose()


def test_options_are_keyword_only():
    with pytest.raises(TypeError):
        HTTPTransport(b"cert")  # type: ignore[misc]


async def test_use_system_dns(make_transport, http_server):
    client = Client(make_transport(use_system_dns=True))
    resp = await client.get(f"http://localhost:{http_server.port}/echo")
    assert resp.status == 200


def test_one_transport_from_threads_each_with_its_own_loop(http_server):
    # pools are per running loop: connections never cross from one thread's loop to another's
    import threading

    transport = HTTPTransport()
    errors: list[BaseException] = []

    def work() -> None:
        async def run() -> None:
            client = Client(transport)
            for _ in range(100):
                r = await client.get(http_server.url + "/echo")
                assert r.status == 200

        try:
            asyncio.run(run())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    asyncio.run(transport.aclose())


class _ThreadCheckingLoop(asyncio.SelectorEventLoop):
    """An asyncio loop that records sockets unregistered from another thread than its own:
    what closing one of its connections from a foreign thread does (asyncio is not
    thread-safe)."""

    def __init__(self) -> None:
        super().__init__()
        self.foreign_closes = 0

    def _remove_reader(self, fd):  # type: ignore[no-untyped-def]
        import threading

        if self._thread_id is not None and self._thread_id != threading.get_ident():
            self.foreign_closes += 1
        return super()._remove_reader(fd)


def test_aclose_closes_another_threads_pool_on_that_threads_loop(http_server):
    import threading

    transport = HTTPTransport()
    loop = _ThreadCheckingLoop()
    pooled = threading.Event()
    closed = threading.Event()
    idle_after: list[int] = []

    async def other_thread() -> None:
        await Client(transport).get(http_server.url + "/echo")
        pool = transport._h1.current_pool()
        assert pool.idle_count() == 1
        pooled.set()
        await asyncio.to_thread(closed.wait, 10)
        for _ in range(100):  # the close arrives as a callback of this loop
            if pool.idle_count() == 0:
                break
            await asyncio.sleep(0.01)
        idle_after.append(pool.idle_count())

    thread = threading.Thread(target=lambda: loop.run_until_complete(other_thread()))
    thread.start()
    try:
        assert pooled.wait(10)
        asyncio.run(transport.aclose())  # from this thread, on its own loop
    finally:
        closed.set()
        thread.join(10)
    loop.close()
    assert (loop.foreign_closes, idle_after) == (0, [0])


async def test_client_honours_execute_overridden_in_a_subclass(make_transport, http_server, ca_pem):
    """Spec §1.11: a subclass's execute runs for Client's buffered methods too (the buffered
    shortcut of HTTPTransport used to bypass it)."""
    seen: list[str] = []

    class Logging(HTTPTransport):
        def execute(self, request: Request):  # type: ignore[no-untyped-def]
            seen.append(request.url)
            return super().execute(request)

    transport = Logging(tls_ca_cert=ca_pem)
    try:
        assert (await Client(transport).get(http_server.url + "/echo")).status == 200
    finally:
        await transport.aclose()
    assert seen == [http_server.url + "/echo"]
