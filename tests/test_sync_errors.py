"""SyncHTTPTransport failures (spec §1.1 classification, §2 timeouts, §4 "test_errors.py" and
"test_protocol_errors.py" for sync): the same raw replies as the async tests give the same
classes; every timeout; connect failures; the stale-connection retry."""

from __future__ import annotations

import asyncio
import threading

import pytest
from servers.scripted import canned, keep_alive, per_connection
from test_errors import UNRESOLVABLE_URL, blackhole_port, refused_port  # noqa: F401
from test_faults import early_answer
from test_protocol_errors import RAW_FIN_CASES

from pyqwest import (
    ConnectTimeout,
    ReadError,
    RemoteProtocolError,
    SyncClient,
    WriteError,
)
from pyqwest._pyqwest import set_sync_timeout


@pytest.fixture
def bounded(make_sync_transport):
    """A client whose requests cannot hang: a generous total timeout."""
    return SyncClient(make_sync_transport(timeout=10))


def first_then_healthy(bad):
    return per_connection(bad, keep_alive(b"healthy"))


def assert_follow_up_ok(client, scripted, connections=2):
    resp = client.get(scripted.url + "/")
    assert resp.content == b"healthy"
    assert scripted.accepted == connections


# --- broken peers ------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", list(RAW_FIN_CASES.values()), ids=list(RAW_FIN_CASES))
def test_raw_reply_then_fin_remote_protocol_error(bounded, scripted, raw):
    scripted.handler = first_then_healthy(canned(raw, then="close"))
    with pytest.raises(RemoteProtocolError):
        bounded.get(scripted.url + "/")
    assert_follow_up_ok(bounded, scripted)


@pytest.mark.parametrize("case", ["short-content-length", "unterminated-chunked"])
def test_truncated_body_streamed_status_seen(bounded, scripted, case):
    scripted.handler = first_then_healthy(canned(RAW_FIN_CASES[case], then="close"))
    with bounded.stream("GET", scripted.url + "/") as resp:
        assert resp.status == 200
        with pytest.raises(RemoteProtocolError):
            list(resp.content)
    assert_follow_up_ok(bounded, scripted)


def test_rst_mid_body_read_error(bounded, scripted):
    release = threading.Event()

    async def bad(conn):
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n" + b"x" * 1000)
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 10)
        conn.rst()

    scripted.handler = first_then_healthy(bad)
    try:
        with bounded.stream("GET", scripted.url + "/") as resp:
            assert len(next(resp.content)) > 0
            release.set()
            with pytest.raises(ReadError):
                list(resp.content)
    finally:
        release.set()
    assert_follow_up_ok(bounded, scripted)


def test_rst_before_response(bounded, scripted):
    async def bad(conn):
        await conn.read_request()
        conn.rst()

    scripted.handler = first_then_healthy(bad)
    with pytest.raises((RemoteProtocolError, ConnectionError, ReadError)):
        bounded.get(scripted.url + "/")
    assert_follow_up_ok(bounded, scripted)


def test_extra_bytes_after_response_not_reused(bounded, scripted):
    async def bad(conn):
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokGARBAGE")
        await conn.hang(10)

    scripted.handler = first_then_healthy(bad)
    assert bounded.get(scripted.url + "/").content == b"ok"
    assert_follow_up_ok(bounded, scripted)


def test_idle_connection_closed_by_server_is_not_handed_out(bounded, scripted):
    """The liveness peek on checkout sees the FIN: a new connection, no failed request."""
    scripted.handler = per_connection(keep_alive(b"healthy", max_requests=1))
    assert bounded.get(scripted.url + "/").content == b"healthy"
    threading.Event().wait(0.3)  # the server closes 50 ms after answering
    assert bounded.get(scripted.url + "/").content == b"healthy"
    assert scripted.accepted == 2


def test_stale_connection_retried_once(bounded, scripted):
    """The server reads the second request on the reused connection, then closes without an
    answer: a GET is resent once on a new connection."""
    scripted.handler = per_connection(
        keep_alive(b"healthy", max_requests=1, after="read-close"), keep_alive(b"healthy"))
    assert bounded.get(scripted.url + "/").content == b"healthy"
    assert bounded.get(scripted.url + "/").content == b"healthy"
    assert scripted.accepted == 2


def test_stale_connection_post_not_retried(bounded, scripted):
    scripted.handler = per_connection(
        keep_alive(b"healthy", max_requests=1, after="read-close"), keep_alive(b"healthy"))
    assert bounded.get(scripted.url + "/").content == b"healthy"
    with pytest.raises(RemoteProtocolError):
        bounded.post(scripted.url + "/", content=b"x")


# --- a response before the request body is finished (the async twins are in test_faults.py) --


def upload_body(kind):
    if kind == "bytes":
        return b"x" * (32 << 20)
    return (b"x" * 65536 for _ in range(512))


def assert_not_pooled(client, scripted):
    assert client.get(scripted.url + "/").content == b"fresh"
    assert scripted.accepted == 2


@pytest.mark.parametrize("body_kind", ["bytes", "iterator"])
def test_response_before_request_body_finished(bounded, scripted, body_kind):
    """The server answers 413 and closes without reading the (large) body: the client
    returns the response rather than the write failure, and does not pool the connection."""
    scripted.handler = early_answer(1024)
    resp = bounded.post(scripted.url + "/", content=upload_body(body_kind))
    assert (resp.status, resp.content) == (413, b"too big")
    assert_not_pooled(bounded, scripted)


def test_early_response_claiming_keep_alive_is_not_pooled(make_sync_transport, scripted):
    """The 413's head says keep-alive, but our write met the peer's reset: the connection is
    closed with the response, never put back in the pool."""
    transport = make_sync_transport(timeout=10)
    client = SyncClient(transport)
    scripted.handler = early_answer(1024, says_close=False)
    resp = client.post(scripted.url + "/", content=upload_body("bytes"))
    assert (resp.status, resp.content) == (413, b"too big")
    assert sum(s.idle for s in transport.pool_stats()) == 0
    assert_not_pooled(client, scripted)


def test_response_before_request_body_finished_stream(bounded, scripted):
    """Streaming: the early response is readable while the upload is cut short."""
    scripted.handler = early_answer(0)
    with bounded.stream("POST", scripted.url + "/", content=upload_body("iterator")) as resp:
        assert resp.status == 413
        assert b"".join(resp.content) == b"too big"
    assert_not_pooled(bounded, scripted)


# --- connecting ----------------------------------------------------------------------------


def test_refused_port_connection_error(bounded, refused_port):  # noqa: F811
    with pytest.raises(ConnectionError) as info:
        bounded.get(f"http://127.0.0.1:{refused_port}/")
    assert not isinstance(info.value, TimeoutError)


def test_refused_port_raises_from_stream(bounded, refused_port):  # noqa: F811
    with pytest.raises(ConnectionError):
        bounded.stream("GET", f"http://127.0.0.1:{refused_port}/")


@pytest.mark.parametrize("system_dns", [False, True])
def test_dns_failure_connection_error(make_sync_transport, system_dns):
    client = SyncClient(make_sync_transport(use_system_dns=system_dns))
    with pytest.raises(ConnectionError):
        client.get(UNRESOLVABLE_URL)


def test_connect_timeout(make_sync_transport, blackhole_port):  # noqa: F811
    client = SyncClient(make_sync_transport(connect_timeout=0.2, timeout=10))
    with pytest.raises(ConnectTimeout) as info:
        client.get(f"http://127.0.0.1:{blackhole_port}/")
    assert isinstance(info.value, ConnectionError)
    assert isinstance(info.value, TimeoutError)


def test_connection_failure_closes_body_without_pulling(bounded, refused_port):  # noqa: F811
    started = threading.Event()

    def gen():
        started.set()
        yield b"x"

    g = gen()
    with pytest.raises(ConnectionError):
        bounded.post(f"http://127.0.0.1:{refused_port}/", content=g)
    assert not started.is_set()
    assert list(g) == []  # closed: a closed generator is exhausted


def test_iterator_yielding_int(bounded, http_server):
    with pytest.raises((ReadError, WriteError)):
        bounded.post(http_server.url + "/echo", content=[b"a", 1])  # type: ignore[list-item]


# --- timeouts ------------------------------------------------------------------------------


def test_zero_timeout(sync_client, http_server):
    with pytest.raises(TimeoutError):
        sync_client.get(http_server.url + "/echo", timeout=0)
    assert sync_client.get(http_server.url + "/echo").status == 200


def test_per_call_timeout_stalled_body_buffered(sync_client, http_server):
    with pytest.raises(TimeoutError) as info:
        sync_client.get(http_server.url + "/stall", timeout=0.3)
    assert not isinstance(info.value, ConnectTimeout)


def test_per_call_timeout_covers_streamed_body_reads(sync_client, http_server):
    with sync_client.stream("GET", http_server.url + "/stall", timeout=0.3) as resp:
        assert resp.status == 200
        with pytest.raises(TimeoutError):
            next(resp.content)


def test_set_sync_timeout_applies_to_transport(sync_client, http_server):
    with pytest.raises(TimeoutError), set_sync_timeout(0.3):
        sync_client.get(http_server.url + "/stall?where=headers")


def test_transport_timeout_covers_slow_body(make_sync_transport, http_server):
    client = SyncClient(make_sync_transport(timeout=0.4))
    with pytest.raises(TimeoutError):
        client.get(http_server.url + "/slow-body?chunks=10&delay=0.1")


def test_transport_timeout_is_total_across_redirect_hops(make_sync_transport, scripted):
    """Each hop answers within the timeout, the chain does not: the deadline is fixed when
    the request starts, it does not restart per hop."""

    async def slow_redirects(conn):
        while (req := await conn.read_request()) is not None:
            await asyncio.sleep(0.2)
            hop = int(req.target.strip("/") or "0")
            await conn.send(
                b"HTTP/1.1 302 Found\r\nlocation: /%d\r\ncontent-length: 0\r\n\r\n" % (hop + 1))

    scripted.handler = slow_redirects
    client = SyncClient(make_sync_transport(timeout=0.5))
    with pytest.raises(TimeoutError):
        client.get(scripted.url + "/")


def test_transport_timeout_not_hit(make_sync_transport, http_server):
    client = SyncClient(make_sync_transport(timeout=10))
    resp = client.get(http_server.url + "/slow-body?chunks=3&delay=0.01")
    assert resp.content == b"chunk0\nchunk1\nchunk2\n"


def test_read_timeout_server_never_answers(make_sync_transport, scripted):
    scripted.handler = lambda conn: conn.hang()
    client = SyncClient(make_sync_transport(read_timeout=0.2, timeout=10))
    with pytest.raises(TimeoutError) as info:
        client.get(scripted.url + "/")
    assert not isinstance(info.value, ConnectTimeout)


def test_read_timeout_per_read_not_total(make_sync_transport, http_server):
    client = SyncClient(make_sync_transport(read_timeout=1.0))
    resp = client.get(http_server.url + "/slow-body?chunks=4&delay=0.3")
    assert resp.content == b"".join(f"chunk{i}\n".encode() for i in range(4))


def test_timeout_leaves_transport_usable(make_sync_transport, http_server):
    client = SyncClient(make_sync_transport(timeout=0.3))
    with pytest.raises(TimeoutError):
        client.get(http_server.url + "/stall")
    assert client.get(http_server.url + "/echo").status == 200
