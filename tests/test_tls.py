"""TLS (spec section 0 "TLS", 1.10): trust roots, hostname checks, mTLS, tls_ca_cert validation."""

from __future__ import annotations

import asyncio
import re
import ssl

import pytest
from servers.scripted import keep_alive
from servers.tls_certs import trustme

from pyqwest import Client, HTTPTransport, HTTPVersion, ReadError, RemoteProtocolError

NO_PEM = "tls_ca_cert did not contain any PEM certificates"
SUBJECT = "CN=someclient,OU=tests,O=curioswitch"


async def read_all(resp) -> bytes:
    return b"".join([bytes(c) async for c in resp.content])


@pytest.fixture(params=[None, HTTPVersion.HTTP1], ids=["auto", "h1"])
def make_transport(request, make_transport):
    """Every TLS test runs with ALPN negotiation (h2 preferred) and with HTTP/1.1 forced."""

    def make(**options):
        options.setdefault("http_version", request.param)
        return make_transport(**options)

    return make


def subject_reporter():
    """keep-alive handler answering with the TLS client certificate subject."""
    return keep_alive(lambda conn, req: (conn.client_subject() or "none").encode())


# --- server verification ---------------------------------------------------------------------


async def test_good_cert_via_tls_ca_cert(client, https_server):
    resp = await client.get(https_server.url + "/echo")
    assert resp.status == 200
    assert resp.headers["x-echo-host"] == f"127.0.0.1:{https_server.port}"


async def test_good_cert_localhost(client, https_server):
    resp = await client.get(f"https://localhost:{https_server.port}/echo")
    assert resp.status == 200


async def test_https_body_roundtrip(client, https_server):
    body = b"secret" * 100000
    resp = await client.post(https_server.url + "/echo", content=body)
    assert resp.content == body


async def test_https_keep_alive(client, https_server):
    ports = {
        (await client.get(https_server.url + "/conn")).headers["x-conn-port"] for _ in range(3)
    }
    assert len(ports) == 1


async def test_forced_http1_over_tls(make_transport, https_server):
    client = Client(make_transport(http_version=HTTPVersion.HTTP1))
    async with client.stream("GET", https_server.url + "/echo") as resp:
        assert resp.status == 200
        assert resp.http_version == HTTPVersion.HTTP1
        await read_all(resp)


async def test_wrong_ca_connection_error(make_transport, https_server):
    other = trustme.CA()
    client = Client(make_transport(tls_ca_cert=other.cert_pem.bytes()))
    with pytest.raises(ConnectionError):
        await client.get(https_server.url + "/echo")


async def test_no_tls_options_does_not_trust_test_ca(make_transport, https_server):
    """Without tls_ca_cert, certifi's roots are used: a private CA is not trusted."""
    client = Client(make_transport(tls_ca_cert=None))
    with pytest.raises(ConnectionError):
        await client.get(https_server.url + "/echo")


async def test_system_certs_added_to_ca(make_transport, https_server):
    client = Client(make_transport(tls_include_system_certs=True))
    assert (await client.get(https_server.url + "/echo")).status == 200


async def test_verification_failure_then_success_same_host(make_transport, https_server, ca_pem):
    bad = Client(make_transport(tls_ca_cert=trustme.CA().cert_pem.bytes()))
    with pytest.raises(ConnectionError):
        await bad.get(https_server.url + "/echo")
    good = Client(make_transport(tls_ca_cert=ca_pem))
    assert (await good.get(https_server.url + "/echo")).status == 200


async def test_hostname_mismatch_ip(client, ca, scripted_factory, server_ssl_context):
    server = scripted_factory(
        keep_alive(), ssl_context=server_ssl_context(ca.issue_cert("localhost"))
    )
    with pytest.raises(ConnectionError):
        await client.get(f"https://127.0.0.1:{server.port}/")
    # control: the name the certificate is for works
    resp = await client.get(f"https://localhost:{server.port}/")
    assert resp.content == b"ok"


async def test_hostname_mismatch_name(client, ca, scripted_factory, server_ssl_context):
    server = scripted_factory(
        keep_alive(), ssl_context=server_ssl_context(ca.issue_cert("127.0.0.1"))
    )
    with pytest.raises(ConnectionError):
        await client.get(f"https://localhost:{server.port}/")
    resp = await client.get(f"https://127.0.0.1:{server.port}/")
    assert resp.content == b"ok"


def leaf_context(ca: trustme.CA, tmp_path, *, san: bool) -> ssl.SSLContext:
    """A server context whose certificate (signed by ``ca``) names ``localhost`` in its CN,
    and in a DNS subjectAltName only when ``san``."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    ca_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), None)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
    )
    if san:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False
        )
    cert = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    path = tmp_path / ("san.pem" if san else "cn-only.pem")
    path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(path))
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


async def test_hostname_never_matched_against_the_common_name(
    client, ca, scripted_factory, tmp_path
):
    """A certificate without subjectAltName does not name any host: no fallback to its CN,
    as browsers and curl (RFC 9110 §4.3.4, RFC 6125 §6.4.4)."""
    cn_only = scripted_factory(keep_alive(), ssl_context=leaf_context(ca, tmp_path, san=False))
    with pytest.raises(ConnectionError, match="Request failed: TLS handshake with localhost"):
        await client.get(f"https://localhost:{cn_only.port}/")
    # control: the same CA and name in a subjectAltName work
    with_san = scripted_factory(keep_alive(), ssl_context=leaf_context(ca, tmp_path, san=True))
    resp = await client.get(f"https://localhost:{with_san.port}/")
    assert resp.content == b"ok"


async def test_expired_certificate(client, ca, scripted_factory, server_ssl_context):
    import datetime

    old = datetime.datetime(2000, 1, 1)
    leaf = ca.issue_cert("127.0.0.1", not_before=old, not_after=old + datetime.timedelta(days=1))
    server = scripted_factory(keep_alive(), ssl_context=server_ssl_context(leaf))
    with pytest.raises(ConnectionError):
        await client.get(f"https://127.0.0.1:{server.port}/")


async def test_plain_http_to_tls_port_fails(client, https_server):
    with pytest.raises((ConnectionError, RemoteProtocolError, ReadError)):
        await asyncio.wait_for(client.get(f"http://127.0.0.1:{https_server.port}/echo"), 10)


async def test_tls_to_plain_port_connection_error(client, http_server):
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(client.get(f"https://127.0.0.1:{http_server.port}/echo"), 10)


# --- mTLS ------------------------------------------------------------------------------------


async def test_mtls_success(make_transport, mtls_server, client_cert_pem, client_key_pem):
    client = Client(make_transport(tls_cert=client_cert_pem, tls_key=client_key_pem))
    resp = await client.get(mtls_server.url + "/echo")
    assert resp.status == 200


async def test_mtls_client_subject(
    make_transport, scripted_factory, server_ssl_context, client_cert_pem, client_key_pem
):
    server = scripted_factory(
        subject_reporter(), ssl_context=server_ssl_context(require_client_cert=True)
    )
    client = Client(make_transport(tls_cert=client_cert_pem, tls_key=client_key_pem))
    resp = await client.get(server.url_for("/"))
    assert resp.content.decode() == SUBJECT


async def test_mtls_cert_sent_when_optional(
    make_transport, scripted_factory, server_ssl_context, client_cert_pem, client_key_pem, ca
):
    ctx = server_ssl_context()
    ca.configure_trust(ctx)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    server = scripted_factory(subject_reporter(), ssl_context=ctx)
    with_cert = Client(make_transport(tls_cert=client_cert_pem, tls_key=client_key_pem))
    assert (await with_cert.get(server.url_for("/"))).content.decode() == SUBJECT
    without = Client(make_transport())
    assert (await without.get(server.url_for("/"))).content == b"none"


async def test_mtls_missing_client_cert_tls13(client, mtls_server):
    # TLS 1.3: the server's rejection may arrive after the client considers the handshake done
    with pytest.raises((ConnectionError, ReadError)):
        await asyncio.wait_for(client.get(mtls_server.url + "/echo"), 10)


async def test_mtls_missing_client_cert_tls12(client, scripted_factory, server_ssl_context):
    server = scripted_factory(
        keep_alive(),
        ssl_context=server_ssl_context(
            require_client_cert=True, max_version=ssl.TLSVersion.TLSv1_2
        ),
    )
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(client.get(server.url_for("/")), 10)


async def test_mtls_client_cert_from_other_ca_rejected(
    make_transport, scripted_factory, server_ssl_context
):
    other = trustme.CA().issue_cert("someclient")
    server = scripted_factory(
        keep_alive(),
        ssl_context=server_ssl_context(
            require_client_cert=True, max_version=ssl.TLSVersion.TLSv1_2
        ),
    )
    client = Client(
        make_transport(
            tls_cert=b"".join(b.bytes() for b in other.cert_chain_pems),
            tls_key=other.private_key_pem.bytes(),
        )
    )
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(client.get(server.url_for("/")), 10)


# --- option validation (1.10) ----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"just some text",
        b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
    ],
    ids=["empty", "text", "key"],
)
def test_tls_ca_cert_without_pem_certificate(value):
    with pytest.raises(ValueError, match=f"^{re.escape(NO_PEM)}$"):
        HTTPTransport(tls_ca_cert=value)


def test_tls_ca_cert_der_rejected(ca):
    der = ssl.PEM_cert_to_DER_cert(ca.cert_pem.bytes().decode())
    with pytest.raises(ValueError, match=f"^{re.escape(NO_PEM)}$"):
        HTTPTransport(tls_ca_cert=der)


def test_tls_ca_cert_server_key_rejected(server_cert):
    with pytest.raises(ValueError, match=f"^{re.escape(NO_PEM)}$"):
        HTTPTransport(tls_ca_cert=server_cert.private_key_pem.bytes())


def test_tls_ca_cert_bad_base64():
    pem = b"-----BEGIN CERTIFICATE-----\n!!!not*base64!!!\n-----END CERTIFICATE-----\n"
    with pytest.raises(ValueError, match=r"^Failed to parse CA certificate: "):
        HTTPTransport(tls_ca_cert=pem)


def test_tls_ca_cert_not_a_certificate():
    pem = b"-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n"
    with pytest.raises(RuntimeError, match="invalid peer certificate"):
        HTTPTransport(tls_ca_cert=pem)


async def test_tls_ca_cert_several_roots(https_server, ca_pem):
    bundle = trustme.CA().cert_pem.bytes() + b"\n" + ca_pem
    async with HTTPTransport(tls_ca_cert=bundle) as t:
        assert (await Client(t).get(https_server.url + "/echo")).status == 200


def test_tls_cert_unparsable():
    with pytest.raises(ValueError, match=r"^Failed to parse tls_cert/key: "):
        HTTPTransport(tls_cert=b"garbage", tls_key=b"garbage")


def test_tls_key_mismatch_unparsable(client_cert_pem):
    with pytest.raises(ValueError, match=r"^Failed to parse tls_cert/key: "):
        HTTPTransport(tls_cert=client_cert_pem, tls_key=b"not a key")


async def test_mtls_rejection_on_a_new_alpn_http1_connection_is_no_stale_socket(
    client, scripted_factory, server_ssl_context
):
    # ALPN settles on http/1.1, then the TLS 1.3 server rejects the missing client
    # certificate: a connection that served nothing is no stale socket, so the failure is
    # the TLS rejection (or, when the server's close meets our request, the reset), never
    # RemoteProtocolError's "closed before any response" (a POST is never resent)
    server = scripted_factory(
        keep_alive(), ssl_context=server_ssl_context(require_client_cert=True)
    )
    with pytest.raises((ConnectionError, ReadError)):
        await asyncio.wait_for(client.post(server.url_for("/"), content=b"x"), 10)
