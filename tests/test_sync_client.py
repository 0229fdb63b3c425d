"""SyncClient over SyncHTTPTransport against the kitchensink app (spec §2, §4 "test_client.py",
"test_transport.py" for sync)."""

from __future__ import annotations

import gc
import json
import threading

import pytest
from servers import payload

import pyqwest
from pyqwest import (
    FullResponse,
    Headers,
    HTTPVersion,
    ReadError,
    RemoteProtocolError,
    SyncClient,
    SyncHTTPTransport,
    SyncResponse,
    TooManyRedirects,
    WriteError,
)

MiB = 1024 * 1024


@pytest.mark.parametrize("method", ["get", "delete", "head", "options"])
def test_bodyless_helper_sets_method(sync_client, http_server, method):
    resp = getattr(sync_client, method)(http_server.url + "/echo")
    assert isinstance(resp, FullResponse)
    assert resp.status == 200
    assert resp.headers["x-echo-method"] == method.upper()


@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_body_helper_sets_method_and_sends_content(sync_client, http_server, method):
    resp = getattr(sync_client, method)(http_server.url + "/echo", content=b"payload")
    assert resp.headers["x-echo-method"] == method.upper()
    assert resp.content == b"payload"


@pytest.mark.parametrize("method", ["GET", "POST", "TRACE", "CUSTOM"])
def test_execute_sets_method(sync_client, http_server, method):
    resp = sync_client.execute(method, http_server.url + "/echo")
    assert resp.headers["x-echo-method"] == method


def test_duplicate_headers_keep_order_and_host(sync_client, http_server):
    headers = Headers([("x-dup", "1"), ("x-dup", "2")])
    resp = sync_client.get(http_server.url + "/echo", headers, params={"foo": "bar"})
    assert resp.headers.getall("x-echo-x-dup") == ["1", "2"]
    assert resp.headers["x-echo-host"] == http_server.netloc
    assert resp.headers["x-echo-query-string"] == "foo=bar"


def test_list_body_streams_its_items(sync_client, http_server):
    resp = sync_client.post(http_server.url + "/echo", content=[b"a", b"bc", b"", b"d"])
    assert resp.content == b"abcd"


def test_hundred_chunk_generator_body(sync_client, http_server):
    resp = sync_client.post(http_server.url + "/echo", content=(b"x%d" % i for i in range(100)))
    assert resp.content == b"".join(b"x%d" % i for i in range(100))


def test_empty_get_body(sync_client, http_server):
    assert sync_client.get(http_server.url + "/echo").content == b""


def test_json_content_type_added_only_on_the_wire(sync_client, http_server):
    headers = Headers()
    resp = sync_client.post(http_server.url + "/echo", headers, {"message": "Hello, World!"})
    assert resp.content == b'{"message": "Hello, World!"}'
    assert resp.headers["x-echo-content-type"] == "application/json"
    assert resp.json() == {"message": "Hello, World!"}
    assert headers == Headers()
    given = sync_client.post(
        http_server.url + "/echo", {"content-type": "text/plain"}, {"a": 1})
    assert given.headers["x-echo-content-type"] == "text/plain"


def test_unicode_path_and_query(sync_client, http_server):
    resp = sync_client.get(http_server.url + "/echo/日本?q=語")
    assert resp.headers["x-echo-raw-path"] == "/echo/%E6%97%A5%E6%9C%AC"
    assert resp.headers["x-echo-query-string"] == "q=%E8%AA%9E"


def test_statuses_verbatim(sync_client, http_server):
    for status in (200, 201, 204, 301, 404, 500, 598):
        resp = sync_client.get(
            http_server.url + "/echo", {"x-response-status": str(status)})
        assert resp.status == status


def test_http_version_auto(sync_client, http_server, https_server):
    """Auto: HTTP/1.1 on http, HTTP/2 (ALPN) on https."""
    with sync_client.stream("GET", http_server.url + "/echo") as resp:
        assert resp.http_version == HTTPVersion.HTTP1
    with sync_client.stream("GET", https_server.url + "/echo") as resp:
        assert resp.http_version == HTTPVersion.HTTP2


def test_stream_large_body(sync_client, http_server):
    with sync_client.stream("GET", http_server.url + "/bytes/3000000") as resp:
        assert isinstance(resp, SyncResponse)
        assert b"".join(resp.content) == payload(3000000)


def test_chunked_body_buffered(sync_client, http_server):
    assert sync_client.get(http_server.url + "/chunked/100000?chunks=7").content == payload(100000)


def duplex_echo(client, url: str) -> list[bytes]:
    """POST three chunks to the echo app, each produced only once the previous one came back
    (full duplex): the pieces received."""
    sent = threading.Event()
    echoed: list[bytes] = []

    def body():
        for i in range(3):
            yield b"chunk%d" % i
            assert sent.wait(10)
            sent.clear()

    with client.stream("POST", url, content=body()) as resp:
        for piece in resp.content:
            echoed.append(bytes(piece))
            sent.set()
    return echoed


def test_full_duplex_echo_chunk_by_chunk(sync_client, http_server):
    """Each request chunk comes back before the next one is produced."""
    assert duplex_echo(sync_client, http_server.url + "/echo") == [b"chunk0", b"chunk1", b"chunk2"]


def test_exit_stream_unread_closes_the_request_iterator(sync_client, http_server):
    closed = threading.Event()
    release = threading.Event()

    def body():
        try:
            yield b"first"
            release.wait(10)
            yield b"second"
        finally:
            closed.set()

    with sync_client.stream("POST", http_server.url + "/echo", content=body()) as resp:
        assert resp.status == 200
    release.set()
    assert closed.wait(10)
    assert list(resp.content) == []


def test_body_iterator_error_fails_the_request(sync_client, http_server):
    def body():
        yield b"a"
        raise RuntimeError("iterator broke")

    with pytest.raises((WriteError, ReadError), match=r"Request|connection|reading content"):
        sync_client.post(http_server.url + "/echo", content=body())


def test_body_iterator_non_bytes_chunk(sync_client, http_server):
    with pytest.raises((WriteError, ReadError)):
        sync_client.post(http_server.url + "/echo", content=[b"a", 1])  # type: ignore[list-item]


def test_str_content_fails_when_sending(sync_client, http_server):
    with pytest.raises((WriteError, ReadError)):
        sync_client.post(http_server.url + "/echo", content="text")  # type: ignore[arg-type]


def test_server_error_after_headers(sync_client, http_server):
    with pytest.raises((RemoteProtocolError, ReadError, WriteError)), sync_client.stream(
        "GET", http_server.url + "/echo", {"x-error-response": "1"}
    ) as resp:
        assert resp.status == 200
        list(resp.content)


def test_text_with_charset(sync_client, http_server):
    resp = sync_client.post(
        http_server.url + "/echo", {"content-type": "text/plain; charset=shift_jis"},
        "日本語".encode("shift_jis"),
    )
    assert resp.text() == "日本語"


# --- transport behaviour ---------------------------------------------------------------------


def test_connection_reused(sync_client, http_server):
    ports = {sync_client.get(http_server.url + "/echo").headers["x-conn-port"] for _ in range(5)}
    assert len(ports) == 1


def test_connection_close_request_not_reused(sync_client, http_server):
    ports = {
        sync_client.get(http_server.url + "/echo", {"connection": "close"}).headers["x-conn-port"]
        for _ in range(3)
    }
    assert len(ports) == 3


def test_redirects_followed(sync_client, http_server):
    resp = sync_client.get(http_server.url + "/redirect/3")
    assert resp.status == 200
    assert resp.headers["x-echo-method"] == "GET"


def test_redirects_off(make_sync_transport, http_server):
    client = SyncClient(make_sync_transport(follow_redirects=False))
    resp = client.get(http_server.url + "/redirect/1")
    assert resp.status == 302
    assert resp.headers["location"] == "/echo"


def test_too_many_redirects(make_sync_transport, http_server):
    client = SyncClient(make_sync_transport(max_redirects=2))
    with pytest.raises(TooManyRedirects):
        client.get(http_server.url + "/redirect/3")


def _cookies_sent(client, server) -> list[str]:
    info = json.loads(client.get(server.url + "/request").content)
    return [v for k, v in info["headers"] if k == "cookie"]


def test_cookie_store(make_sync_transport, semantics_server):
    on = SyncClient(make_sync_transport(enable_cookie_store=True))
    off = SyncClient(make_sync_transport())
    on.get(semantics_server.url + "/set-cookie?c=testcookie=hello")
    assert _cookies_sent(on, semantics_server) == ["testcookie=hello"]
    off.get(semantics_server.url + "/set-cookie?c=testcookie=hello")
    assert _cookies_sent(off, semantics_server) == []


@pytest.mark.parametrize("codings", ["br", "gzip", "zstd", "deflate", "gzip,br", ""])
def test_content_decoded(sync_client, semantics_server, codings):
    resp = sync_client.get(semantics_server.url + f"/encoded?codings={codings}&size=50000&pieces=5")
    assert resp.status == 200
    assert resp.content == payload(50000)
    assert "content-encoding" not in resp.headers


def test_content_decoded_streamed(sync_client, semantics_server):
    url = semantics_server.url + "/encoded?codings=gzip&size=300000&pieces=9"
    with sync_client.stream("GET", url) as resp:
        assert b"".join(resp.content) == payload(300000)


def test_closed_transport_raises_runtime_error(make_sync_transport, http_server):
    transport = make_sync_transport()
    transport.close()
    transport.close()
    with pytest.raises(RuntimeError, match="already closed transport"):
        SyncClient(transport).get(http_server.url + "/echo")


def test_transport_context_manager(ca_pem, http_server):
    with SyncHTTPTransport(tls_ca_cert=ca_pem) as transport:
        assert SyncClient(transport).get(http_server.url + "/echo").status == 200
    with pytest.raises(RuntimeError):
        SyncClient(transport).get(http_server.url + "/echo")


def test_default_sync_transport_is_a_singleton_that_survives_close():
    t = pyqwest.get_default_sync_transport()
    assert t is pyqwest.get_default_sync_transport()
    t.close()
    assert isinstance(SyncClient()._transport, SyncHTTPTransport)


def test_default_client_works(http_server):
    assert SyncClient().get(http_server.url + "/echo").status == 200


def test_dropped_unclosed_response_closes_generator(sync_client, http_server):
    closed = threading.Event()

    def body():
        try:
            yield b"a"
            threading.Event().wait(0.2)
            yield b"b"
        finally:
            closed.set()

    resp = sync_client.stream("POST", http_server.url + "/echo", content=body()).__enter__()
    del resp
    gc.collect()
    assert closed.wait(5)


@pytest.mark.parametrize(
    "option", ["timeout", "connect_timeout", "read_timeout", "pool_idle_timeout",
               "tcp_keepalive_interval"])
@pytest.mark.parametrize("bad", [-1.0, float("inf"), float("nan")])
def test_invalid_timeouts(option, bad):
    with pytest.raises(ValueError, match="Timeout must be non-negative"):
        SyncHTTPTransport(**{option: bad})


def test_tls_option_validation_is_shared():
    with pytest.raises(ValueError, match="Both tls_key and tls_cert must be provided"):
        SyncHTTPTransport(tls_key=b"k")
    with pytest.raises(ValueError, match="did not contain any PEM certificates"):
        SyncHTTPTransport(tls_ca_cert=b"nope")


def test_callers_chunked_transfer_encoding_on_bytes_body(make_sync_transport, scripted):
    """A bytes body under the caller's `transfer-encoding: chunked` goes chunk-framed, as the
    header says (it used to follow the head raw, which the server read as a chunk size)."""
    from servers.scripted import keep_alive

    scripted.handler = keep_alive(lambda conn, req: b"%d|%b" % (req.chunked, req.body))
    client = SyncClient(make_sync_transport(timeout=10))
    resp = client.post(scripted.url + "/", {"transfer-encoding": "chunked"}, b"hello")
    assert resp.content == b"1|hello"


def test_buffered_large_body_read_whole(sync_client, http_server):
    """SyncClient reads a large Content-Length body straight into its final bytes."""
    assert sync_client.get(http_server.url + "/bytes/3000000").content == payload(3000000)
    assert sync_client.get(http_server.url + "/bytes/70000?chunk=1000").content == payload(70000)


def test_buffered_large_body_truncated_by_fin(make_sync_transport, scripted):
    from servers.scripted import canned, keep_alive, per_connection

    head = b"HTTP/1.1 200 OK\r\ncontent-length: 200000\r\n\r\n"
    scripted.handler = per_connection(canned(head + b"x" * 100000, then="close"),
                                      keep_alive(b"healthy"))
    client = SyncClient(make_sync_transport(timeout=10))
    with pytest.raises(RemoteProtocolError, match="Error reading full content"):
        client.get(scripted.url + "/")
    assert client.get(scripted.url + "/").content == b"healthy"


def test_subclass_overriding_execute_sync_is_honoured(ca_pem, http_server):
    seen: list[str] = []

    class Logging(SyncHTTPTransport):
        def execute_sync(self, request):
            seen.append(request.url)
            return super().execute_sync(request)

    with Logging(tls_ca_cert=ca_pem) as transport:
        assert SyncClient(transport).get(http_server.url + "/echo").status == 200
    assert seen == [http_server.url + "/echo"]
