"""SSLContexts for transports: one per distinct TLS configuration, built once and shared."""

from __future__ import annotations

import binascii
import os
import re
import ssl
import tempfile

import certifi

_contexts: dict[tuple[object, ...], ssl.SSLContext] = {}
_roots: dict[ssl.SSLContext, tuple[bytes, str | None]] = {}  # quic_roots() per shared context
_PEM_CERT = b"-----BEGIN CERTIFICATE-----"
_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.S)


def validate_tls_options(ca_cert: bytes | None, key: bytes | None, cert: bytes | None) -> None:
    """Raise the spec's errors for bad TLS options at transport construction."""
    if (key is None) != (cert is None):
        raise ValueError("Both tls_key and tls_cert must be provided")
    if ca_cert is not None and _PEM_CERT not in ca_cert:
        raise ValueError("tls_ca_cert did not contain any PEM certificates")


def client_context(
    ca_cert: bytes | None,
    key: bytes | None,
    cert: bytes | None,
    include_system: bool,
    alpn: tuple[str, ...],
) -> ssl.SSLContext:
    ident = (ca_cert, key, cert, include_system, alpn)
    ctx = _contexts.get(ident)
    if ctx is None:
        ctx = _contexts[ident] = _build(ca_cert, key, cert, include_system, alpn)
    return ctx


def quic_roots(ctx: ssl.SSLContext, include_system: bool) -> tuple[bytes, str | None]:
    """The roots a TLS context trusts, for a TLS stack of its own (QUIC's): the PEM of those
    it loaded, and the OS certificate directory it reads lazily when system certs are on."""
    roots = _roots.get(ctx)
    if roots is None:
        pem = "".join(ssl.DER_cert_to_PEM_cert(der) for der in ctx.get_ca_certs(binary_form=True))
        capath = ssl.get_default_verify_paths().capath if include_system else None
        roots = _roots[ctx] = (pem.encode("ascii"), capath)
    return roots


def _build(
    ca_cert: bytes | None,
    key: bytes | None,
    cert: bytes | None,
    include_system: bool,
    alpn: tuple[str, ...],
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # a certificate names its hosts in subjectAltName only (RFC 6125 §6.4.4; browsers, curl)
    ctx.hostname_checks_common_name = False
    if ca_cert is not None:
        _check_pem_blocks(ca_cert)
        try:
            ctx.load_verify_locations(cadata=ca_cert.decode("ascii"))
        except (ssl.SSLError, UnicodeDecodeError, ValueError) as exc:
            # well-formed PEM whose content is no certificate
            raise RuntimeError(f"Failed to create client: invalid peer certificate: {exc}") from exc
    else:
        # no roots given: certifi's (spec §0), never an empty store by accident
        ctx.load_verify_locations(cafile=certifi.where())
    if include_system:
        ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if cert is not None and key is not None:
        _load_identity(ctx, cert, key)
    ctx.set_alpn_protocols(list(alpn))
    return ctx


def _check_pem_blocks(pem: bytes) -> None:
    """ValueError when a CERTIFICATE block's base64 does not decode."""
    for block in _PEM_BLOCK.findall(pem):
        try:
            binascii.a2b_base64(b"".join(block.split()), strict_mode=True)
        except binascii.Error as exc:
            raise ValueError(f"Failed to parse CA certificate: {exc}") from exc


def _load_identity(ctx: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    # load_cert_chain only reads files: a private temporary file, deleted at once
    fd, path = tempfile.mkstemp(prefix="pyqwest-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(cert.rstrip(b"\n") + b"\n" + key)
        ctx.load_cert_chain(path)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ValueError(f"Failed to parse tls_cert/key: {exc}") from exc
    finally:
        os.unlink(path)
