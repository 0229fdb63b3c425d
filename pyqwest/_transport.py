"""HTTPTransport: options, TLS, connections and pools; executes Requests (spec §1.10–1.11)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import warnings
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar, runtime_checkable

from cpqwest._errors import ConnectTimeout, RemoteProtocolError
from cpqwest._exchange import H1Pools, build_head
from cpqwest._parser import HAS_CONTENT_ENCODING, HAS_LOCATION, HAS_SET_COOKIE
from cpqwest._pool import Pool
from cpqwest._protocol import H1Connection, H1Protocol

from ._cookies import CookieJar
from ._decompress import accept_encoding
from ._dns import CACHE_TTL, Resolver, connect_socket
from ._framing import body_framing
from ._h2 import ALPNNegotiator, H2Connection, H2Pools, request_headers
from ._headers import Headers
from ._options import check_timeout
from ._policy import (
    Codings,
    Hop,
    decode_whole,
    notable_of,
    outgoing_headers,
    redirect,
    response_decoder,
    store_cookies,
)
from ._redirects import is_redirect
from ._request import HeadersArg, ParamsArg, Request, check_method, to_body
from ._response import FullResponse, Response
from ._tls import client_context, quic_roots, validate_tls_options
from ._url import ParsedURL, parse_url, with_params
from ._version import HTTPVersion

if TYPE_CHECKING:
    from ._h3 import H3Connection  # the http3 extra: imported only when HTTP/3 is asked for

_REPLAYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
_EMPTY = Headers()


@runtime_checkable
class Transport(Protocol):
    """Executes requests; implement it to mock or wrap (middleware) the HTTP transport."""

    def execute(self, request: Request) -> Awaitable[Response]:
        """Send ``request`` and resolve to its :class:`Response` (streaming: at the head)."""


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _weakly(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """A bound method of a transport that does not keep the transport alive: its pools hold
    it, and a transport nobody references must be collected (and its sockets closed) at once,
    not when the cycle collector runs."""
    ref = weakref.WeakMethod(method)

    def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        bound = ref()
        if bound is None:
            raise RuntimeError("Request failed: already closed transport")
        return bound(*args, **kwargs)

    return call


class HTTPTransport:
    """An HTTP transport: pooled HTTP/1.1 and HTTP/2 connections per origin and event loop.

    Every option is keyword-only; invalid values raise ``ValueError`` at construction.

    :param tls_ca_cert: PEM roots to trust instead of certifi's (default ``None``).
    :param tls_key: PEM private key of a client certificate (mTLS); needs ``tls_cert``.
    :param tls_cert: PEM client certificate chain (mTLS); needs ``tls_key``.
    :param tls_include_system_certs: also trust the OS store (default ``False``).
    :param http_version: ``None`` (default): HTTP/1.1 on plain TCP, ALPN with h2 preferred
        on TLS; ``HTTPVersion.HTTP1``: HTTP/1.1 only; ``HTTPVersion.HTTP2``: HTTP/2 only
        (prior knowledge on plain TCP); ``HTTPVersion.HTTP3``: ``ValueError`` (not built).
    :param proxy: a proxy URL, ``Proxy`` or a sequence of them (default ``None``: the
        ``*_PROXY`` environment variables apply); accepted, proxying is not built yet.
    :param timeout: total deadline of an exchange in seconds, body included (``None``: none).
    :param connect_timeout: seconds to connect (default 30); over: :class:`ConnectTimeout`.
    :param read_timeout: seconds allowed per read (``None``: no limit).
    :param pool_idle_timeout: seconds an idle pooled connection is kept (default 90).
    :param pool_max_idle_per_host: cap of idle connections per origin (``None``: no cap).
    :param tcp_keepalive_interval: TCP keep-alive interval in seconds (default 30).
    :param enable_gzip: advertise and decode gzip (and deflate) (default ``True``).
    :param enable_brotli: advertise and decode br (default ``True``).
    :param enable_zstd: advertise and decode zstd (default ``True``).
    :param use_system_dns: ``getaddrinfo`` on every connect instead of the cached resolver
        with happy eyeballs (default ``False``).
    :param enable_cookie_store: keep ``set-cookie`` and send ``cookie`` (default ``False``).
    :param follow_redirects: follow 3xx with ``location`` (default ``True``).
    :param max_redirects: redirects allowed (default 10); over: :class:`TooManyRedirects`.
    :param enable_otel: OpenTelemetry spans and metrics when installed (default ``True``).
    :param meter_provider: OpenTelemetry meter provider (``None``: the global one).
    :param tracer_provider: OpenTelemetry tracer provider (``None``: the global one).
    :raises ValueError: a negative, infinite or NaN timeout, unusable TLS material, HTTP/3.
    """

    # until __init__ completes: a transport whose options were refused owns nothing to close
    _closed = True
    # a transport dropped with open connections says so (ResourceWarning), as asyncio's do
    _warn_unclosed = True

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
        h3 = _http3() if http_version == HTTPVersion.HTTP3 else None
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
        self._h1_origins: set[tuple[str, str, int]] = set()
        self._proxy = proxy
        self._codings = Codings(enable_gzip, enable_brotli, enable_zstd)
        self._accept_encoding = accept_encoding(enable_gzip, enable_brotli, enable_zstd)
        self._resolver = Resolver(None if use_system_dns else CACHE_TTL)
        self._jar = CookieJar() if enable_cookie_store else None
        self._follow_redirects = follow_redirects
        self._max_redirects = max_redirects
        self._enable_otel = enable_otel
        self._h1 = H1Pools(
            _weakly(self._connect), idle_timeout, pool_max_idle_per_host, self._timeout,
            self._read_timeout,
        )
        self._h2 = H2Pools(
            _weakly(self._connect_h2), idle_timeout, pool_max_idle_per_host, self._timeout,
            self._read_timeout,
        )
        self._h3: H2Pools | None = None
        if h3 is not None:
            # the QUIC handshake checks the same roots and presents the same identity
            cadata, capath = quic_roots(self._ssl, tls_include_system_certs)
            self._h3_tls = h3.TLSSettings(cadata, capath, tls_cert, tls_key)
            # QUIC's idle timeout (0: none) closes a connection idle in the pool, or whose
            # server stopped answering, on both ends
            self._h3_idle = idle_timeout or 0.0
            self._h3 = H2Pools(
                _weakly(self._connect_h3), idle_timeout, pool_max_idle_per_host, self._timeout,
                self._read_timeout,
            )
        self._closed = False

    # --- lifecycle -------------------------------------------------------------------------
    async def __aenter__(self) -> HTTPTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def aclose(self) -> Awaitable[None]:
        """Close every pooled connection; later requests raise ``RuntimeError``. Idempotent."""
        return self._aclose()

    async def _aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._h1.close()
            self._h2.close()
            if self._h3 is not None:
                self._h3.close()

    def __del__(self) -> None:
        # Dropped without aclose(): close the pooled connections on their own loops (this may
        # run in any thread, inside any callback of the loop).
        if self._closed:
            return
        self._closed = True
        open_connections = 0
        groups = [self._h1.detach(), self._h2.detach()]
        if self._h3 is not None:
            groups.append(self._h3.detach())
        for pools in groups:
            for loop, pool in pools.items():
                open_connections += pool.open_count()
                if not loop.is_closed():
                    with contextlib.suppress(RuntimeError):  # closed meanwhile
                        loop.call_soon_threadsafe(pool.close)
        if open_connections and self._warn_unclosed:
            warnings.warn(
                f"unclosed {self!r} with {open_connections} open connection(s): they are closed"
                " now; call aclose() or use 'async with'",
                ResourceWarning,
                source=self,
                stacklevel=1,
            )

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("Request failed: already closed transport")

    # --- connecting ------------------------------------------------------------------------
    async def _connect(
        self, loop: asyncio.AbstractEventLoop, key: tuple[str, str, int], pool: Pool
    ) -> H1Connection:
        """A new HTTP/1.1 connection (TLS: ALPN offers only http/1.1)."""
        conn: H1Connection = await self._open(
            loop, key, self._ssl, lambda: H1Protocol(loop, key)
        )
        conn.pool = pool
        return conn

    async def _connect_h2(
        self, loop: asyncio.AbstractEventLoop, key: tuple[str, str, int]
    ) -> H2Connection | None:
        """A new HTTP/2 connection, ready for requests (the server's SETTINGS arrived); None
        when ALPN chose http/1.1: that connection then waits in the HTTP/1.1 pool."""
        factory: Any
        if key[0] == "https" and not self._force:
            factory = lambda: ALPNNegotiator(  # noqa: E731
                lambda: H1Protocol(loop, key), lambda: H2Connection(loop, key)
            )
        else:
            factory = lambda: H2Connection(loop, key)  # noqa: E731
        conn = await self._open(loop, key, self._ssl_h2, factory)
        if isinstance(conn, H1Connection):
            self._h1_origins.add(key)
            pool = self._h1.current_pool()
            conn.pool = pool
            pool.checkin(conn)
            return None
        return conn  # type: ignore[no-any-return]

    async def _open(
        self,
        loop: asyncio.AbstractEventLoop,
        key: tuple[str, str, int],
        tls: ssl.SSLContext,
        factory: Any,
    ) -> Any:
        """Connect and return the protocol (for HTTP/2: once the server's SETTINGS came)."""
        scheme, host, port = key
        kwargs: dict[str, Any] = {}
        if scheme == "https":
            kwargs["ssl"] = tls
            kwargs["server_hostname"] = host
        async with self._connecting(host, port, "HTTP/2"):
            infos = await self._resolver.resolve(loop, host, port)
            sock = await connect_socket(loop, infos)
            try:
                transport, proto = await loop.create_connection(factory, sock=sock, **kwargs)
            except BaseException:
                sock.close()
                raise
            if isinstance(proto, ALPNNegotiator):
                proto = proto.protocol
            self._tune_socket(transport)
            if isinstance(proto, H2Connection):
                ready = proto.ready()
                if ready is not None:
                    try:
                        await ready
                    except BaseException:
                        proto.close()
                        raise
        return proto

    async def _connect_h3(
        self, loop: asyncio.AbstractEventLoop, key: tuple[str, str, int]
    ) -> H3Connection:
        """A new HTTP/3 connection, ready for requests (the QUIC handshake is done)."""
        h3 = _http3()
        _scheme, host, port = key
        async with self._connecting(host, port, "HTTP/3"):
            infos = await self._resolver.resolve(loop, host, port)
            conn: H3Connection = await h3.open_h3(
                loop, key, infos, lambda: h3.QuicCore(host, self._h3_tls, self._h3_idle)
            )
        return conn

    @contextlib.asynccontextmanager
    async def _connecting(self, host: str, port: int, protocol: str) -> AsyncIterator[None]:
        """The connect budget (connect_timeout within the total timeout) and the spec's errors
        for a failure while connecting."""
        timeout = self._connect_timeout
        if self._timeout is not None:
            timeout = self._timeout if timeout is None else min(timeout, self._timeout)
        try:
            async with asyncio.timeout(timeout):
                yield
        except TimeoutError:
            raise ConnectTimeout(f"Request failed: connection to {host}:{port} timed out") from None
        except ssl.SSLError as exc:
            raise ConnectionError(f"Request failed: TLS handshake with {host}: {exc}") from exc
        except OSError as exc:
            raise ConnectionError(f"Request failed: connecting to {host}:{port}: {exc}") from exc
        except RemoteProtocolError as exc:
            raise RemoteProtocolError(
                f"Request failed: {protocol} connection to {host}:{port}: {exc}"
            ) from exc

    def _tune_socket(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is None:
            return
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

    # --- requests --------------------------------------------------------------------------
    def _head(
        self,
        method: str,
        url: ParsedURL,
        headers: Headers | None,
        body: bytes | AsyncIterator[bytes],
        is_json: bool,
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
        head = build_head(
            method, url.target, url.authority, pairs, is_json, body_len, chunked,
            self._auto_accept_encoding(headers),
        )
        return head, body_len, chunked, close_after

    def _h2_headers(
        self,
        method: str,
        url: ParsedURL,
        headers: Headers | None,
        body: bytes | AsyncIterator[bytes],
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

    async def _fetch(
        self,
        method: str,
        url: str,
        headers: HeadersArg | None,
        content: Any,
        params: ParamsArg | None,
    ) -> FullResponse:
        """Client's buffered path: the whole exchange without building a Request."""
        self._check_open()
        check_method(method)
        parsed = parse_url(with_params(url, params) if params is not None else url)
        h, body, is_json = to_body(headers, content)
        hops = 0
        while True:
            _version, status, notable, raw_headers, data, raw_trailers = await self._send(
                method, parsed, h, body, is_json, True
            )
            response_headers = Headers._from_wire(raw_headers)
            if notable:
                hop = self._next_hop(
                    method, parsed, h, body, is_json, status, notable, response_headers, hops
                )
                if hop is not None:
                    hops += 1
                    method, parsed, h, body, is_json = hop
                    continue
                if notable & HAS_CONTENT_ENCODING:
                    data = decode_whole(response_headers, data, self._codings)
            return FullResponse(
                status,
                response_headers,
                data,
                Headers._from_wire(raw_trailers) if raw_trailers else Headers(),
            )

    def execute(self, request: Request) -> Awaitable[Response]:
        """Send ``request``; resolves to the :class:`Response` as soon as its head arrived."""
        return self._execute(request)

    async def _execute(self, request: Request) -> Response:
        self._check_open()
        method, parsed = request.method, request._parsed
        h: Headers | None = request.headers
        body, is_json = request.content, request._json
        hops = 0
        while True:
            version, status, notable, raw_headers, source, _ = await self._send(
                method, parsed, h, body, is_json, False
            )
            response_headers = Headers._from_wire(raw_headers)
            decoder = None
            if notable:
                try:
                    hop = self._next_hop(
                        method, parsed, h, body, is_json, status, notable, response_headers, hops
                    )
                    if notable & HAS_CONTENT_ENCODING and hop is None:
                        decoder = response_decoder(response_headers, self._codings)
                except BaseException:
                    source.abort()
                    raise
                if hop is not None:
                    # done with the 3xx: its connection goes back to the pool if it can
                    done = Response._from_wire(status, version, response_headers, source, None)
                    await done.aclose()
                    hops += 1
                    method, parsed, h, body, is_json = hop
                    continue
            return Response._from_wire(status, version, response_headers, source, decoder)

    def _next_hop(
        self,
        method: str,
        parsed: ParsedURL,
        headers: Headers | None,
        body: bytes | AsyncIterator[bytes],
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

    def _mux_for(self, key: tuple[str, str, int]) -> tuple[H2Pools | None, HTTPVersion]:
        """The multiplexed pools (HTTP/2 or HTTP/3) for an origin, None for HTTP/1.1."""
        force = self._force
        if force == 2 or (not force and key[0] == "https" and key not in self._h1_origins):
            return self._h2, HTTPVersion.HTTP2
        if force == 3 and key[0] == "https":
            return self._h3, HTTPVersion.HTTP3
        return None, HTTPVersion.HTTP1

    async def _send(
        self,
        method: str,
        parsed: ParsedURL,
        headers: Headers | None,
        body: bytes | AsyncIterator[bytes],
        is_json: bool,
        buffered: bool,
    ) -> tuple[HTTPVersion, int, int, list[tuple[str, str]], Any, list[tuple[str, str]] | None]:
        """One exchange: (version, status, notable header bits, header pairs, payload, trailer
        pairs). Buffered, the payload is the whole body and trailers are known; streamed, it
        is the body source (the HTTP/1.1 connection or the HTTP/2 stream) and trailers None."""
        if self._jar is not None or parsed.userinfo is not None:
            headers = outgoing_headers(parsed, headers, self._jar)
        key = (parsed.scheme, parsed.host, parsed.port)
        streamed = not isinstance(body, bytes)
        replayable = method in _REPLAYABLE_METHODS and not streamed
        try:
            mux, version = self._mux_for(key)
            if mux is not None:
                result = await mux.exchange(
                    key, self._h2_headers(method, parsed, headers, body, is_json), body or None,
                    buffered, replayable,
                )
                if result is not None:
                    if buffered:
                        status, raw_headers, data, raw_trailers = result
                        return (version, status, notable_of(raw_headers), raw_headers, data,
                                raw_trailers)
                    return (version, result.status, notable_of(result.headers), result.headers,
                            result, None)
                # ALPN chose http/1.1 for this origin: on with HTTP/1.1
            head, body_len, chunked, close_after = self._head(
                method, parsed, headers, body, is_json
            )
            result = await self._h1.exchange(
                key, head, body if body or chunked else None, method == "HEAD", buffered,
                replayable, chunked, close_after, body_len,
            )
        except BaseException:
            if streamed:
                await _close_body(body)
            raise
        if buffered:
            status, notable, _reason, raw_headers, data, raw_trailers = result
            return HTTPVersion.HTTP1, status, notable, raw_headers, data, raw_trailers
        p = result.parser
        return HTTPVersion.HTTP1, p.status, p.notable, p.headers, result, None


def _http3() -> Any:
    """The HTTP/3 package; ValueError naming the extra when its QUIC library is missing."""
    try:
        from . import _h3
    except ImportError as exc:
        raise ValueError(
            "HTTP/3 needs the optional extra cpqwest[http3] (pip install 'cpqwest[http3]'): "
            f"{exc}"
        ) from exc
    return _h3


async def _close_body(body: Any) -> None:
    aclose = getattr(body, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()


_default: HTTPTransport | None = None


def get_default_transport() -> HTTPTransport:
    """The process-wide transport used by clients made without one (certifi + OS roots)."""
    global _default
    if _default is None:
        _default = _DefaultTransport(tls_include_system_certs=True)
    return _default


class _DefaultTransport(HTTPTransport):
    # never closed by design: nothing to warn about when it goes at interpreter exit
    _warn_unclosed = False

    async def _aclose(self) -> None:
        # shared by every default Client: closing it would break the others
        return None


__all__ = ["HTTPTransport", "Transport", "get_default_transport"]
