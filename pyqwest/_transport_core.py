"""What HTTPTransport and SyncHTTPTransport share: the options (one signature, one validation),
TLS contexts, and the sans-IO request policy (head fields, redirects, cookies, the stale
retry rule). Each transport adds only its I/O flavour's pools and drivers."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

from cpqwest._exchange import build_head
from cpqwest._parser import HAS_LOCATION, HAS_SET_COOKIE

from ._cookies import CookieJar
from ._decompress import accept_encoding
from ._dns import CACHE_TTL, Resolver
from ._framing import body_framing
from ._h2 import request_headers
from ._headers import Headers
from ._observe import telemetry
from ._options import check_timeout
from ._policy import Codings, Hop, redirect, store_cookies
from ._proxy import Proxy, env_proxies, forwards, proxies_option, select_proxy
from ._redirects import is_redirect
from ._tls import client_context, validate_tls_options
from ._url import ParsedURL
from ._version import HTTPVersion

# A body is bytes, or streamed: an async iterator (HTTPTransport) or an iterator (sync).
Body = bytes | AsyncIterator[bytes] | Iterator[bytes]

# methods the stale-connection retry may resend (spec §0)
REPLAYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


class TransportCore:
    """Options and request policy of a transport; subclasses add pools (`_init_pools`)."""

    # until __init__ completes: a transport whose options were refused owns nothing to close
    _closed = True

    def __init__(
        self,
        *,
        tls_ca_cert: bytes | None = None,
        tls_key: bytes | None = None,
        tls_cert: bytes | None = None,
        tls_include_system_certs: bool = False,
        http_version: HTTPVersion | None = None,
        proxy: Any = None,
        timeout: float | None = None,
        connect_timeout: float | None = 30.0,
        read_timeout: float | None = None,
        pool_idle_timeout: float | None = 90.0,
        pool_max_idle_per_host: int | None = None,
        tcp_keepalive_interval: float | None = 30.0,
        enable_gzip: bool = True,
        enable_brotli: bool = True,
        enable_zstd: bool = True,
        use_system_dns: bool = False,
        enable_cookie_store: bool = False,
        follow_redirects: bool = True,
        max_redirects: int = 10,
        enable_otel: bool = True,
        meter_provider: Any = None,
        tracer_provider: Any = None,
    ) -> None:
        validate_tls_options(tls_ca_cert, tls_key, tls_cert)
        self._tls_options = (tls_ca_cert, tls_key, tls_cert, tls_include_system_certs)
        self._timeout = check_timeout(timeout)
        self._connect_timeout = check_timeout(connect_timeout)
        self._read_timeout = check_timeout(read_timeout)
        idle_timeout = check_timeout(pool_idle_timeout)
        self._keepalive = check_timeout(tcp_keepalive_interval)
        if pool_max_idle_per_host is not None and pool_max_idle_per_host < 0:
            raise ValueError("pool_max_idle_per_host must be non-negative")
        self._http_version = http_version
        # 0: ALPN decides over TLS, HTTP/1.1 on plain TCP; 1: HTTP/1.1 only; 2: HTTP/2 only;
        # 3: HTTP/3 for https (QUIC has no cleartext form: http URLs go over HTTP/1.1, as curl)
        self._force = 0 if http_version is None else (
            HTTPVersion.HTTP1, HTTPVersion.HTTP2, HTTPVersion.HTTP3
        ).index(http_version) + 1
        # HTTP/1.1 connections offer only http/1.1; HTTP/2 ones offer h2 (and http/1.1 unless
        # forced): the server's choice wins
        self._ssl = client_context(
            tls_ca_cert, tls_key, tls_cert, tls_include_system_certs, ("http/1.1",)
        )
        self._ssl_h2 = client_context(
            tls_ca_cert, tls_key, tls_cert, tls_include_system_certs,
            ("h2",) if self._force == 2 else ("h2", "http/1.1"),
        )
        # https origins whose server chose http/1.1 (auto mode): no more ALPN probing
        self._h1_origins: set[tuple[Any, ...]] = set()
        # proxies given switch the environment's off (as in reqwest); read once, here
        self._proxies = proxies_option(proxy) or env_proxies()
        self._codings = Codings(enable_gzip, enable_brotli, enable_zstd)
        self._accept_encoding = accept_encoding(enable_gzip, enable_brotli, enable_zstd)
        self._resolver = Resolver(None if use_system_dns else CACHE_TTL)
        self._jar = CookieJar() if enable_cookie_store else None
        self._follow_redirects = follow_redirects
        self._max_redirects = max_redirects
        self._enable_otel = enable_otel
        self._telemetry = telemetry(enable_otel, tracer_provider, meter_provider)
        self._init_pools(idle_timeout, pool_max_idle_per_host)
        self._closed = False
        if self._telemetry is not None:
            from ._pool_metrics import observe_pools

            observe_pools(meter_provider, self.pool_stats)  # type: ignore[attr-defined]

    def _init_pools(self, idle_timeout: float | None, max_idle: int | None) -> None:
        raise NotImplementedError

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("Request failed: already closed transport")

    def _tune_socket(self, sock: socket.socket) -> None:
        """TCP_NODELAY, and keep-alive probes per `tcp_keepalive_interval`."""
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._keepalive:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                interval = max(1, int(self._keepalive))
                if hasattr(socket, "TCP_KEEPIDLE"):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, interval)
                if hasattr(socket, "TCP_KEEPINTVL"):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, interval)
        except OSError:
            pass

    def _route(self, url: ParsedURL) -> tuple[Any, ...]:
        """The pool key of a request: (scheme, host, port), plus the Proxy it goes through, so
        proxied and direct connections never serve each other's requests."""
        key = (url.scheme, url.host, url.port)
        if self._proxies:
            proxy = select_proxy(self._proxies, url.scheme, url.host)
            if proxy is not None:
                return (*key, proxy)
        return key

    # --- the request head --------------------------------------------------------------------
    def _head(
        self,
        method: str,
        url: ParsedURL,
        headers: Headers | None,
        body: Body,
        is_json: bool,
        key: tuple[Any, ...] = (),
    ) -> tuple[bytes, int, bool, bool]:
        """The request head bytes, the body length it declares (-1: none), whether the body
        goes chunked, and whether the request asks to close the connection after it."""
        body_len, chunked = body_framing(method, headers, body)
        pairs = None
        close_after = False
        if headers:
            pairs = headers._wire_pairs()
            connection = headers.get("connection")
            close_after = connection is not None and "close" in connection.lower()
        target = url.target
        if len(key) > 3:
            proxy: Proxy = key[3]
            if forwards(proxy, url.scheme, self._force == 2):
                # absolute-form to the proxy, with its credentials and headers (§3.5)
                target = f"{url.scheme}://{url.authority}{target}"
                pairs = (pairs or []) + proxy.head_pairs()
        head = build_head(
            method, target, url.authority, pairs, is_json, body_len, chunked,
            self._auto_accept_encoding(headers),
        )
        return head, body_len, chunked, close_after

    def _h2_headers(
        self,
        method: str,
        url: ParsedURL,
        headers: Headers | None,
        body: Body,
        is_json: bool,
    ) -> list[tuple[str, str]]:
        return request_headers(
            method, url.scheme, url.authority, url.target,
            headers._wire_pairs() if headers else None, is_json,
            body_framing(method, headers, body)[0], self._auto_accept_encoding(headers),
        )

    def _auto_accept_encoding(self, headers: Headers | None) -> str | None:
        """The ``Accept-Encoding`` to add when the caller set none, on either HTTP version.

        None with a ``Range`` header, as reqwest does: the range would apply to the encoded
        representation (Apache answers a 206 slice of the brotli stream, which no decoder
        can read).
        """
        if headers and "range" in headers:
            return None
        return self._accept_encoding

    # --- after a response head -----------------------------------------------------------------
    def _next_hop(
        self,
        method: str,
        parsed: ParsedURL,
        headers: Headers | None,
        body: Any,
        is_json: bool,
        status: int,
        notable: int,
        response_headers: Headers,
        hops: int,
    ) -> Hop | None:
        """After a response with notable header fields: store its cookies, and the request its
        redirect leads to (None: this response is the answer)."""
        if notable & HAS_SET_COOKIE:
            store_cookies(self._jar, parsed, response_headers)
        if notable & HAS_LOCATION and self._follow_redirects and is_redirect(status):
            return redirect(
                method, parsed, headers, body, is_json, status, response_headers, hops + 1,
                self._max_redirects,
            )
        return None

    def _wants_h2(self, key: tuple[Any, ...]) -> bool:
        force = self._force
        return force == 2 or (not force and key[0] == "https" and key not in self._h1_origins)
