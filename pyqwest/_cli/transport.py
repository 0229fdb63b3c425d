"""The :class:`~pyqwest.HTTPTransport` the command's options describe."""

from __future__ import annotations

from pathlib import Path

from .._transport import HTTPTransport
from .exits import Exit, Failure
from .options import Options


def _pem(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise Failure(Exit.READ_ERROR, f"cannot read {path}: {exc.strerror or exc}") from exc


def make_transport(opts: Options) -> HTTPTransport:
    """A transport with curl's defaults: no redirects unless -L, the OS roots trusted too."""
    tls_ca_cert = _pem(opts.cacert) if opts.cacert is not None else None
    tls_cert = _pem(opts.cert) if opts.cert is not None else None
    tls_key = _pem(opts.key) if opts.key is not None else tls_cert
    return HTTPTransport(
        tls_ca_cert=tls_ca_cert,
        tls_include_system_certs=tls_ca_cert is None,
        tls_cert=tls_cert,
        tls_key=tls_key,
        http_version=opts.http_version,
        proxy=opts.proxy,
        timeout=opts.max_time,
        connect_timeout=30.0 if opts.connect_timeout is None else opts.connect_timeout,
        follow_redirects=opts.location,
        max_redirects=opts.max_redirs,
    )
