"""What HTTPTransport and SyncHTTPTransport share: the options (one signature, one validation),
TLS contexts and the request head; what follows a response head (redirects, cookies,
decoding) is _exchange_driver's. Each transport adds only its I/O flavour's pools and its
thin loop."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

from cpqwest._reqhead import h1_head, h2_headers

from ._cookies import CookieJar
from ._decompress import accept_encoding
from ._dns import CACHE_TTL, Resolver
from ._headers import Headers
from ._observe import telemetry
from ._options import check_timeout
from ._policy import Codings
from ._proxy import Proxy, env_proxies, forwards, proxies_option, select_proxy
from ._tls import client_context, validate_tls_options
from ._url import ParsedURL
from ._version import HTTPVersion

# A body is bytes, or streamed: an async iterator (HTTPTransport) or an iterator (sync).
Body = bytes | AsyncIterator[bytes] | Iterator[bytes]

# methods the stale-connection retry may resend (spec §0)
REPLAYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
PROXY_ROUTES_MAX = 1024  # origins whose proxy decision a transport remembers


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
        # the route of each origin through them, decided once (no_proxy parses the host)
        self._proxy_routes: dict[tuple[str, str, int], tuple[Any, ...]] = {}
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
        if not self._proxies:
            return key
        routes = self._proxy_routes
        route = routes.get(key)
        if route is None:
            proxy = select_proxy(self._proxies, url.scheme, url.host)
            route = key if proxy is None else (*key, proxy)
            if len(routes) >= PROXY_ROUTES_MAX:
                routes.clear()  # a bound for clients that visit many origins
            routes[key] = route
        return route

    # --- the request head: one compiled policy (cpqwest/_reqhead.pyx) ---------------------
    def _head(
        self, method: str, url: ParsedURL, headers: Headers | None, body: Body, is_json: bool,
        key: tuple[Any, ...] = (),
    ) -> tuple[bytes, int, bool, bool]:
        """The HTTP/1.1 request head bytes, the body length it declares (-1: none), whether
        the body goes chunked, and whether the request asks to close the connection after it.
        ValueError for caller framing fields the body contradicts."""
        proxy_pairs = None
        if len(key) > 3:
            proxy: Proxy = key[3]
            if forwards(proxy, url.scheme, self._force == 2):
                # absolute-form to the proxy, with its credentials and headers (§3.5)
                proxy_pairs = proxy.head_pairs()
        return h1_head(
            method, url, headers._map() if headers is not None else None, body, is_json,
            self._accept_encoding, proxy_pairs,
        )

    def _h2_headers(
        self, method: str, url: ParsedURL, headers: Headers | None, body: Body, is_json: bool
    ) -> list[tuple[str, str]]:
        """The HTTP/2 (and HTTP/3) header list of the same request: `_head`'s defaults and
        framing checks, connection-specific fields dropped."""
        return h2_headers(
            method, url, headers._map() if headers is not None else None, body, is_json,
            self._accept_encoding,
        )

    def _wants_h2(self, key: tuple[Any, ...]) -> bool:
        force = self._force
        return force == 2 or (not force and key[0] == "https" and key not in self._h1_origins)

    def _wants_h3(self, key: tuple[Any, ...]) -> bool:
        # QUIC cannot cross an HTTP or SOCKS5 (TCP) proxy: a proxied request keeps to the
        # proxy and goes over TCP to the origin
        return self._force == 3 and key[0] == "https" and len(key) == 3
