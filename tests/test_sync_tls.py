"""SyncHTTPTransport over TLS (spec §1.10 TLS options, §4 "test_tls*.py" for sync): the same
SSLContexts as the async transport, server verification, mTLS; over HTTP/2 and HTTP/1.1."""

from __future__ import annotations

import datetime
import ssl

import pytest
import trustme
from servers.scripted import keep_alive
from test_tls import SUBJECT, subject_reporter

from pyqwest import HTTPVersion, ReadError, RemoteProtocolError, SyncClient


@pytest.fixture(params=[None, HTTPVersion.HTTP1], ids=["auto", "h1"])
def make_sync_transport(request, make_sync_transport):
    """Every case over both drivers: ALPN (HTTP/2 with hypercorn) and forced HTTP/1.1."""

    def make(**options):
        options.setdefault("http_version", request.param)
        return make_sync_transport(**options)

    return make


@pytest.fixture
def sync_client(make_sync_transport):
    return SyncClient(make_sync_transport())


def test_good_cert_and_reuse(sync_client, https_server):
    ports = {sync_client.get(https_server.url + "/echo").headers["x-conn-port"] for _ in range(3)}
    assert len(ports) == 1


def test_large_body_over_tls(sync_client, https_server):
    with sync_client.stream("GET", https_server.url + "/bytes/2000000") as resp:
        assert sum(len(c) for c in resp.content) == 2000000


def test_streamed_upload_over_tls(sync_client, https_server):
    body = (b"%05d" % i for i in range(2000))
    resp = sync_client.post(https_server.url + "/echo", content=body)
    assert resp.content == b"".join(b"%05d" % i for i in range(2000))


def test_wrong_ca_connection_error(make_sync_transport, https_server):
    client = SyncClient(make_sync_transport(tls_ca_cert=trustme.CA().cert_pem.bytes()))
    with pytest.raises(ConnectionError):
        client.get(https_server.url + "/echo")


def test_no_tls_options_does_not_trust_test_ca(make_sync_transport, https_server):
    client = SyncClient(make_sync_transport(tls_ca_cert=None))
    with pytest.raises(ConnectionError):
        client.get(https_server.url + "/echo")


def test_system_certs_added_to_ca(make_sync_transport, https_server):
    client = SyncClient(make_sync_transport(tls_include_system_certs=True))
    assert client.get(https_server.url + "/echo").status == 200


def test_hostname_mismatch(sync_client, ca, scripted_factory, server_ssl_context):
    server = scripted_factory(
        keep_alive(), ssl_context=server_ssl_context(ca.issue_cert("localhost")))
    with pytest.raises(ConnectionError):
        sync_client.get(f"https://127.0.0.1:{server.port}/")
    assert sync_client.get(f"https://localhost:{server.port}/").content == b"ok"


def test_expired_certificate(sync_client, ca, scripted_factory, server_ssl_context):
    old = datetime.datetime(2000, 1, 1)
    leaf = ca.issue_cert("127.0.0.1", not_before=old, not_after=old + datetime.timedelta(days=1))
    server = scripted_factory(keep_alive(), ssl_context=server_ssl_context(leaf))
    with pytest.raises(ConnectionError):
        sync_client.get(f"https://127.0.0.1:{server.port}/")


def test_plain_http_to_tls_port_fails(make_sync_transport, https_server):
    client = SyncClient(make_sync_transport(timeout=10))
    with pytest.raises((ConnectionError, RemoteProtocolError, ReadError)):
        client.get(f"http://127.0.0.1:{https_server.port}/echo")


def test_tls_to_plain_port_connection_error(make_sync_transport, http_server):
    client = SyncClient(make_sync_transport(timeout=10))
    with pytest.raises(ConnectionError):
        client.get(f"https://127.0.0.1:{http_server.port}/echo")


def test_mtls_success(make_sync_transport, mtls_server, client_cert_pem, client_key_pem):
    client = SyncClient(make_sync_transport(tls_cert=client_cert_pem, tls_key=client_key_pem))
    assert client.get(mtls_server.url + "/echo").status == 200


def test_mtls_client_subject(
    make_sync_transport, scripted_factory, server_ssl_context, client_cert_pem, client_key_pem
):
    server = scripted_factory(
        subject_reporter(), ssl_context=server_ssl_context(require_client_cert=True))
    client = SyncClient(make_sync_transport(tls_cert=client_cert_pem, tls_key=client_key_pem))
    assert client.get(server.url_for("/")).content.decode() == SUBJECT


def test_mtls_missing_client_cert_tls13(make_sync_transport, mtls_server):
    client = SyncClient(make_sync_transport(timeout=10))
    with pytest.raises(ConnectionError):
        client.get(mtls_server.url + "/echo")


def test_mtls_missing_client_cert_tls12(make_sync_transport, scripted_factory,
                                        server_ssl_context):
    server = scripted_factory(
        keep_alive(),
        ssl_context=server_ssl_context(
            require_client_cert=True, max_version=ssl.TLSVersion.TLSv1_2),
    )
    client = SyncClient(make_sync_transport(timeout=10))
    with pytest.raises(ConnectionError):
        client.get(server.url_for("/"))
