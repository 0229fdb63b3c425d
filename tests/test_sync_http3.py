"""SyncHTTPTransport over HTTP/3 (issue 17, the sync half): the behaviours test_http3.py and
test_http3_faults.py pin for the asyncio driver, through the blocking UDP driver: one QUIC
connection per origin shared by threads, bodies both ways, timeouts, TLS, resets, GOAWAY,
CONNECTION_CLOSE, loss, a vanished server, nothing left behind."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fds import HAVE_PROC, new_fds, open_fds
from servers import HypercornServer, payload
from servers.h3raw import H3RawServer
from servers.udp_relay import UdpRelay
from test_http3_faults import (
    CLIENT_SUBJECT,
    H3_INTERNAL_ERROR,
    _url,
    answer_peer_subject,
    close_the_first,
    data_before_head_once,
    goaway_at_the_second,
    head_then_reset,
    no_head_then_good,
    raw_h3,
    reject_the_first,
    relay,
)
from test_sync_client import duplex_echo
from test_sync_threads import _blocked_reader

import pyqwest
from pyqwest import HTTPVersion, RemoteProtocolError, StreamError, StreamErrorCode, SyncClient

MiB = 1 << 20
__all__ = ["raw_h3", "relay"]  # fixtures shared with test_http3_faults.py


@pytest.fixture
def h3(make_sync_transport: Any) -> SyncClient:
    """A sync client speaking HTTP/3, bounded by a generous timeout."""
    return SyncClient(make_sync_transport(http_version=HTTPVersion.HTTP3, timeout=30))


# --- basics -------------------------------------------------------------------------------


def test_get_reports_http3(h3: SyncClient, h3_server: HypercornServer) -> None:
    with h3.stream("GET", h3_server.url + "/echo?a=b") as resp:
        assert resp.http_version == HTTPVersion.HTTP3
        assert resp.status == 200
        assert resp.headers["x-echo-host"] == h3_server.netloc
    full = h3.get(h3_server.url + "/echo", params={"a": "b c"})
    assert full.headers["x-echo-query-string"] == "a=b+c"


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
                                    "CUSTOM"])
def test_every_method(h3: SyncClient, h3_server: HypercornServer, method: str) -> None:
    assert h3.execute(method, h3_server.url + "/echo").headers["x-echo-method"] == method


def test_head_and_no_body_statuses(h3: SyncClient, h3_server: HypercornServer) -> None:
    head = h3.head(h3_server.url + f"/bytes/{MiB}")
    assert (head.status, head.content) == (200, b"")
    for code in (204, 304):
        resp = h3.get(h3_server.url + f"/status/{code}")
        assert (resp.status, resp.content) == (code, b"")


def test_a_large_request_header_goes_through(h3: SyncClient, h3_server: HypercornServer) -> None:
    token = "t" * 20_000  # (qh3's QPACK coder alone refuses fields over 4 KiB coded)
    assert h3.get(h3_server.url + "/echo", {"x-token": token}).headers["x-echo-x-token"] == token
    assert h3.get(h3_server.url + "/echo").status == 200


def test_json_and_bytes_bodies(h3: SyncClient, h3_server: HypercornServer) -> None:
    resp = h3.post(h3_server.url + "/echo", content={"message": "Hello, World!"})
    assert resp.content == b'{"message": "Hello, World!"}'
    assert h3.put(h3_server.url + "/echo", content=b"").content == b""


# --- bodies, both ways ---------------------------------------------------------------------


def test_large_download_buffered_and_streamed(h3: SyncClient, h3_server: HypercornServer) -> None:
    expected = payload(4 * MiB)
    assert h3.get(h3_server.url + f"/bytes/{4 * MiB}").content == expected
    with h3.stream("GET", h3_server.url + f"/chunked/{4 * MiB}?chunks=16") as resp:
        assert b"".join(bytes(c) for c in resp.content) == expected


def test_large_upload_bytes_and_streamed(h3: SyncClient, h3_server: HypercornServer) -> None:
    data = payload(4 * MiB, offset=3)
    assert h3.post(h3_server.url + "/echo", content=data).content == data
    pieces = (data[i : i + 100_000] for i in range(0, len(data), 100_000))
    assert h3.post(h3_server.url + "/echo", content=pieces).content == data


def test_full_duplex_echo(h3: SyncClient, h3_server: HypercornServer) -> None:
    assert duplex_echo(h3, h3_server.url + "/echo") == [b"chunk0", b"chunk1", b"chunk2"]


def test_body_iterator_error_is_a_write_error(h3: SyncClient, h3_server: HypercornServer) -> None:
    def body() -> Iterator[bytes]:
        yield b"first"
        raise RuntimeError("boom")

    with pytest.raises((pyqwest.WriteError, pyqwest.ReadError)):
        h3.post(h3_server.url + "/echo", content=body())
    assert h3.get(h3_server.url + "/echo").status == 200


# --- one connection, many threads -----------------------------------------------------------


def test_eight_threads_share_one_connection(h3: SyncClient, h3_server: HypercornServer) -> None:
    def worker(n: int) -> set[str]:
        ports = set()
        for i in range(10):
            resp = h3.post(h3_server.url + "/conn?delay=0.01", content=b"%d-%d" % (n, i))
            assert resp.status == 200
            ports.add(resp.headers["x-conn-port"])
        return ports

    with ThreadPoolExecutor(8) as pool:
        ports = set().union(*pool.map(worker, range(8)))
    assert len(ports) == 1


def test_more_requests_than_stream_credit(h3: SyncClient, h3_server: HypercornServer) -> None:
    # aioquic grants 128 bidirectional streams at first: later ones wait for more credit
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: h3.get(h3_server.url + "/conn"), range(300)))
    assert len({r.content for r in results}) == 1


def test_eight_threads_upload_and_download(h3: SyncClient, h3_server: HypercornServer) -> None:
    bodies = [payload(256 << 10, offset=i) for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        echoed = list(pool.map(lambda b: h3.post(h3_server.url + "/echo", content=b).content,
                               bodies))
    assert echoed == bodies


def test_idle_connection_closed_after_pool_idle_timeout(
    make_sync_transport: Any, h3_server: HypercornServer
) -> None:
    client = SyncClient(make_sync_transport(http_version=HTTPVersion.HTTP3, pool_idle_timeout=0.2))
    first = client.get(h3_server.url + "/conn").content
    assert client.get(h3_server.url + "/conn").content == first
    time.sleep(0.6)
    assert client.get(h3_server.url + "/conn").content != first


# --- closing ----------------------------------------------------------------------------------


def test_close_unread_response_keeps_connection(
    h3: SyncClient, h3_server: HypercornServer
) -> None:
    with h3.stream("GET", h3_server.url + f"/bytes/{8 * MiB}") as resp:
        port = resp.headers["x-conn-port"]
        next(iter(resp.content))
    assert h3.get(h3_server.url + "/conn").content.decode() == port


def test_close_during_pending_read_from_another_thread(
    h3: SyncClient, h3_server: HypercornServer
) -> None:
    resp = h3.stream("GET", h3_server.url + "/stall?where=body").__enter__()
    reader, errors = _blocked_reader(resp)
    resp.close()
    reader.join(5)
    assert [type(e) for e in errors] == [pyqwest.ReadError]
    assert h3.get(h3_server.url + "/echo").status == 200


def test_transport_close_wakes_blocked_reader(
    make_sync_transport: Any, h3_server: HypercornServer
) -> None:
    transport = make_sync_transport(http_version=HTTPVersion.HTTP3)
    resp = SyncClient(transport).stream("GET", h3_server.url + "/stall?where=body").__enter__()
    reader, errors = _blocked_reader(resp)
    transport.close()
    reader.join(5)
    assert [type(e) for e in errors] == [pyqwest.ReadError]
    resp.close()
    with pytest.raises(RuntimeError, match="already closed transport"):
        SyncClient(transport).get(h3_server.url + "/echo")


# --- timeouts -------------------------------------------------------------------------------


def test_total_timeout_keeps_connection(
    make_sync_transport: Any, h3_server: HypercornServer
) -> None:
    client = SyncClient(make_sync_transport(http_version=HTTPVersion.HTTP3, timeout=0.3))
    before = client.get(h3_server.url + "/conn").content
    with pytest.raises(TimeoutError):
        client.get(h3_server.url + "/stall?where=headers")
    assert client.get(h3_server.url + "/conn").content == before


def test_read_timeout_on_body(make_sync_transport: Any, h3_server: HypercornServer) -> None:
    client = SyncClient(make_sync_transport(http_version=HTTPVersion.HTTP3, read_timeout=0.3))
    with client.stream("GET", h3_server.url + "/stall?where=body") as resp:
        assert resp.status == 200
        with pytest.raises(TimeoutError):
            next(iter(resp.content))


def test_connect_timeout_when_nothing_answers(make_sync_transport: Any) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        client = SyncClient(make_sync_transport(http_version=HTTPVersion.HTTP3,
                                                connect_timeout=0.3))
        with pytest.raises(pyqwest.ConnectTimeout):
            client.get(_url(silent.getsockname()[1]))


def test_closed_port_is_a_connection_error(make_sync_transport: Any) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = SyncClient(make_sync_transport(http_version=HTTPVersion.HTTP3, connect_timeout=5))
    with pytest.raises(ConnectionError) as info:
        client.get(_url(port))
    assert not isinstance(info.value, TimeoutError)


# --- TLS --------------------------------------------------------------------------------------


def test_untrusted_certificate_is_a_connection_error(
    make_sync_transport: Any, h3_server: HypercornServer
) -> None:
    import trustme

    other = trustme.CA().cert_pem.bytes()
    client = SyncClient(make_sync_transport(http_version=HTTPVersion.HTTP3, tls_ca_cert=other))
    with pytest.raises(ConnectionError) as info:
        client.get(h3_server.url + "/echo")
    assert not isinstance(info.value, TimeoutError)


def test_hostname_is_verified(h3: SyncClient, h3_server: HypercornServer) -> None:
    assert h3.get(h3_server.url_for("/echo", host="localhost")).status == 200
    with pytest.raises(ConnectionError):
        h3.get(h3_server.url_for("/echo", host="127.0.0.2"))


def test_mtls_identity_is_presented(
    make_sync_transport: Any,
    raw_h3: Callable[..., H3RawServer],
    client_cert_pem: bytes,
    client_key_pem: bytes,
) -> None:
    server = raw_h3(answer_peer_subject, request_client_cert=True)
    transport = make_sync_transport(http_version=HTTPVersion.HTTP3, tls_cert=client_cert_pem,
                                    tls_key=client_key_pem)
    subject = SyncClient(transport).get(_url(server.port)).content.decode()
    assert set(subject.split(",")) == CLIENT_SUBJECT


def test_http_urls_go_over_http1(make_sync_transport: Any, http_server: HypercornServer) -> None:
    client = SyncClient(make_sync_transport(http_version=HTTPVersion.HTTP3))
    with client.stream("GET", http_server.url + "/echo") as resp:
        assert resp.http_version == HTTPVersion.HTTP1


# --- the transport's response handling applies to HTTP/3 responses too ------------------------


def test_decoding_redirects_cookies_over_h3(
    make_sync_transport: Any, semantics_h3_server: HypercornServer
) -> None:
    client = SyncClient(make_sync_transport(http_version=HTTPVersion.HTTP3,
                                            enable_cookie_store=True))
    base = semantics_h3_server.url
    url = base + "/encoded?codings=gzip,br&size=100000&pieces=5"
    assert client.get(url).content == payload(100000)
    resp = client.post(base + "/redirect?to=/request&status=307", content=b"payload")
    assert (resp.json()["method"], resp.json()["body"]) == ("POST", "payload")
    client.get(base + "/set-cookie?c=flavour=oat")
    assert ["cookie", "flavour=oat"] in client.get(base + "/request").json()["headers"]


# --- faults -----------------------------------------------------------------------------------


def test_trailers_are_delivered(h3: SyncClient, raw_h3: Callable[..., H3RawServer]) -> None:
    server = raw_h3(lambda conn, sid, headers: conn.respond(
        sid, 200, b"body", trailers=[(b"x-checksum", b"abc")]))
    full = h3.get(_url(server.port))
    assert (full.content, full.trailers) == (b"body", {"x-checksum": "abc"})


def test_reset_before_head_is_a_stream_error(
    h3: SyncClient, raw_h3: Callable[..., H3RawServer]
) -> None:
    server = raw_h3(lambda conn, sid, headers: conn.reset(sid, 0x107))  # H3_EXCESSIVE_LOAD
    with pytest.raises(StreamError) as info:
        h3.get(_url(server.port))
    assert info.value.code == StreamErrorCode.ENHANCE_YOUR_CALM


def test_reset_mid_body_is_a_stream_error(
    h3: SyncClient, raw_h3: Callable[..., H3RawServer]
) -> None:
    server = raw_h3(head_then_reset)
    with h3.stream("GET", _url(server.port)) as resp, pytest.raises(StreamError) as info:
        for _ in resp.content:
            pass
    assert info.value.code == StreamErrorCode.INTERNAL_ERROR


def test_data_before_the_head_closes_the_connection(
    h3: SyncClient, raw_h3: Callable[..., H3RawServer]
) -> None:
    server = raw_h3(data_before_head_once)
    with pytest.raises(RemoteProtocolError, match="HTTP/3 protocol error by the server"):
        h3.get(_url(server.port))
    assert h3.get(_url(server.port)).content == b"fresh connection"
    assert server.connections == 2


def test_a_response_without_head_fails_only_its_request(
    h3: SyncClient, raw_h3: Callable[..., H3RawServer]
) -> None:
    server = raw_h3(no_head_then_good)
    with pytest.raises(RemoteProtocolError, match="ended before its head"):
        h3.get(_url(server.port))
    assert h3.get(_url(server.port)).content == b"ok"
    assert server.connections == 1


def test_rejected_request_is_retried_once(
    h3: SyncClient, raw_h3: Callable[..., H3RawServer]
) -> None:
    server = raw_h3(reject_the_first)
    resp = h3.get(_url(server.port))
    assert (resp.content, server.requests) == (b"second try", 2)


def test_requests_above_goaway_go_to_a_new_connection(
    h3: SyncClient, raw_h3: Callable[..., H3RawServer]
) -> None:
    server = raw_h3(goaway_at_the_second())
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: h3.get(_url(server.port)).content, range(2)))
    assert sorted(results) == [b"conn 0", b"conn 1"]
    assert server.connections == 2


def test_connection_close_retries_replayable_requests_once(
    h3: SyncClient, raw_h3: Callable[..., H3RawServer]
) -> None:
    server = raw_h3(close_the_first)
    assert h3.get(_url(server.port)).content == b"fresh connection"
    assert server.connections == 2


def test_connection_close_fails_a_streamed_upload(
    h3: SyncClient, raw_h3: Callable[..., H3RawServer]
) -> None:
    server = raw_h3(lambda conn, sid, headers: conn.close(H3_INTERNAL_ERROR, "going away"))
    with pytest.raises(pyqwest.RemoteProtocolError, match="going away"):
        h3.post(_url(server.port), content=iter([b"not replayable"]))
    assert server.connections == 1


def test_lossy_path_delivers_everything(
    h3: SyncClient, h3_server: HypercornServer, relay: Callable[..., UdpRelay]
) -> None:
    lossy = relay(h3_server.port, lambda direction, n: n > 3 and n % 10 == 0)
    size = 256 << 10
    data = payload(size, offset=5)
    assert h3.get(_url(lossy.port, f"/bytes/{size}")).content == payload(size)
    assert h3.post(_url(lossy.port, "/echo"), content=data).content == data
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: h3.get(_url(lossy.port, "/conn")), range(20)))
    assert all(r.status == 200 for r in results)
    assert lossy.dropped["up"] > 0 and lossy.dropped["down"] > 0


@pytest.mark.parametrize(
    "options", [{"read_timeout": 0.5}, {"pool_idle_timeout": 1.0}],
    ids=["read_timeout", "quic_idle"],
)
def test_vanished_server_is_a_timeout(
    make_sync_transport: Any,
    h3_server: HypercornServer,
    relay: Callable[..., UdpRelay],
    options: dict[str, float],
) -> None:
    path = relay(h3_server.port)
    client = SyncClient(make_sync_transport(http_version=HTTPVersion.HTTP3, **options))
    assert client.get(_url(path.port, "/echo")).status == 200
    path.vanish()
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        client.get(_url(path.port, "/echo"))
    assert time.monotonic() - start < 15  # does not hang


# --- nothing leaks ----------------------------------------------------------------------------


@pytest.mark.skipif(not HAVE_PROC, reason="needs /proc")
def test_no_fds_or_threads_left(
    make_sync_transport: Any, h3_server: HypercornServer, raw_h3: Callable[..., H3RawServer]
) -> None:
    resetting = raw_h3(lambda conn, sid, headers: conn.reset(sid, H3_INTERNAL_ERROR))
    time.sleep(0.1)
    before = open_fds()
    threads = threading.active_count()
    transport = make_sync_transport(http_version=HTTPVersion.HTTP3)
    client = SyncClient(transport)
    for _ in range(3):
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: client.get(h3_server.url + "/echo"), range(10)))
        client.post(h3_server.url + "/echo", content=iter([b"x" * 100_000]))
        with client.stream("GET", h3_server.url + f"/bytes/{MiB}") as resp:
            next(iter(resp.content))
        with pytest.raises(StreamError):
            client.get(_url(resetting.port))
    transport.close()
    time.sleep(0.2)
    assert new_fds(before) == set()
    assert threading.active_count() == threads
