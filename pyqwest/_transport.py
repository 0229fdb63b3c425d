"""HTTPTransport: options, TLS, connections and pools; executes Requests (spec §1.10–1.11)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
import warnings
import weakref
from collections.abc import Awaitable, Callable
from typing import (
    TYPE_CHECKING,
    Any,
    Literal,
    ParamSpec,
    Protocol,
    TypeVar,
    overload,
    runtime_checkable,
)

from cpqwest._errors import connecting
from cpqwest._exchange import H1Pools
from cpqwest._pool import Pool
from cpqwest._protocol import H1Connection, H1Protocol

from ._deadline import Deadline
from ._dns import connect_socket
from ._exchange_driver import Exchange, begin
from ._h2 import ALPNNegotiator, H2Connection, H2Pools
from ._headers import Headers
from ._http3 import quic_factory
from ._observe import Watch, watching
from ._policy import notable_of
from ._pool_stats import PoolStats, collect
from ._proxy_connect import open_via_proxy
from ._request import HeadersArg, ParamsArg, Request, check_method, to_body
from ._response import FullResponse, Response, as_buffered_read, read_full
from ._timings import SetupClock
from ._transport_core import REPLAYABLE_METHODS, TransportCore
from ._url import ParsedURL, parse_url, with_params
from ._version import HTTPVersion

if TYPE_CHECKING:
    from ._h3 import H3Connection  # the http3 extra: imported only when HTTP/3 is asked for


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


class HTTPTransport(TransportCore):
    """An HTTP transport: pooled HTTP/1.1, HTTP/2 and HTTP/3 connections per origin and event loop.

    Every option is keyword-only; invalid values raise ``ValueError`` at construction.

    :param tls_ca_cert: PEM roots to trust instead of certifi's (default ``None``).
    :param tls_key: PEM private key of a client certificate (mTLS); needs ``tls_cert``.
    :param tls_cert: PEM client certificate chain (mTLS); needs ``tls_key``.
    :param tls_include_system_certs: also trust the OS store (default ``False``).
    :param http_version: ``None`` (default): HTTP/1.1 on plain TCP, ALPN with h2 preferred
        on TLS; ``HTTPVersion.HTTP1``: HTTP/1.1 only; ``HTTPVersion.HTTP2``: HTTP/2 only
        (prior knowledge on plain TCP); ``HTTPVersion.HTTP3``: HTTP/3 over QUIC (prior
        knowledge, https URLs; http URLs stay on HTTP/1.1) with the ``cpqwest[http3]`` extra.
    :param proxy: a proxy URL, ``Proxy`` or a sequence of them (default ``None``: the
        ``*_PROXY`` environment variables apply); the first that admits a request is used.
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
    :raises ValueError: a negative, infinite or NaN timeout, unusable TLS material, HTTP/3
        without the ``cpqwest[http3]`` extra.
    """

    # a transport dropped with open connections says so (ResourceWarning), as asyncio's do
    _warn_unclosed = True

    def _init_pools(self, idle_timeout: float | None, max_idle: int | None) -> None:
        self._h1 = H1Pools(
            _weakly(self._connect), idle_timeout, max_idle, self._read_timeout
        )
        self._h2 = H2Pools(_weakly(self._connect_h2), idle_timeout, max_idle, self._read_timeout)
        self._h3: H2Pools | None = None
        if self._force == 3:
            self._new_quic = quic_factory(self, idle_timeout)
            self._h3 = H2Pools(
                _weakly(self._connect_h3), idle_timeout, max_idle, self._read_timeout
            )

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
            self._close_pools()

    def _close_pools(self, defer: bool = False) -> int:
        """Close every pool on its own event loop: this may run in any thread, and a loop's
        connections are only touched by that loop (other loops, and every loop when
        `defer`, get the close as a callback). Returns how many connections were open."""
        current: asyncio.AbstractEventLoop | None = None
        if not defer:
            with contextlib.suppress(RuntimeError):  # no loop running in this thread
                current = asyncio.get_running_loop()
        open_connections = 0
        for pools in self._all_pools():
            for loop, pool in pools.detach().items():
                open_connections += pool.open_count()
                if loop is current:
                    pool.close()
                elif not loop.is_closed():
                    with contextlib.suppress(RuntimeError):  # closed meanwhile
                        loop.call_soon_threadsafe(pool.close)
        return open_connections

    def _all_pools(self) -> list[H1Pools | H2Pools]:
        """The transport's pools: HTTP/1.1, HTTP/2 and (when asked for) HTTP/3."""
        return [self._h1, self._h2] if self._h3 is None else [self._h1, self._h2, self._h3]

    def pool_stats(self) -> list[PoolStats]:
        """The connections per route (origin, proxy) and HTTP version, over every event loop
        using the transport: idle and in use now, and since the transport was made, opened,
        reused, closed (by error, by the idle timeout); for HTTP/2 and HTTP/3 also the
        requests waiting for a stream slot. Cheap (no I/O, a few dict reads per route): fit
        to poll every second from a metrics exporter; safe from any thread."""
        out = list(collect(HTTPVersion.HTTP1, self._h1.stats, self._h1.idle_by_key()))
        for pools, version in ((self._h2, HTTPVersion.HTTP2), (self._h3, HTTPVersion.HTTP3)):
            if pools is not None:
                now = pools.idle_and_waiting()
                out.extend(collect(
                    version, pools.stats, {k: v[0] for k, v in now.items()},
                    {k: v[1] for k, v in now.items()},
                ))
        return out

    def __del__(self) -> None:
        # Dropped without aclose(): close the pooled connections on their own loops (this may
        # run in any thread, inside any callback of the loop).
        if self._closed:
            return
        self._closed = True
        open_connections = self._close_pools(defer=True)
        if open_connections and self._warn_unclosed:
            warnings.warn(
                f"unclosed {self!r} with {open_connections} open connection(s): they are closed"
                " now; call aclose() or use 'async with'",
                ResourceWarning,
                source=self,
                stacklevel=1,
            )

    # --- connecting ------------------------------------------------------------------------
    async def _connect(
        self, loop: asyncio.AbstractEventLoop, key: tuple[Any, ...], pool: Pool,
        deadline: Deadline,
    ) -> H1Connection:
        """A new HTTP/1.1 connection (TLS: ALPN offers only http/1.1)."""
        conn: H1Connection = await self._open(
            loop, key, self._ssl, lambda: H1Protocol(loop, key), deadline
        )
        pool.adopt(conn)
        return conn

    async def _connect_h2(
        self, loop: asyncio.AbstractEventLoop, key: tuple[Any, ...], deadline: Deadline
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
        conn = await self._open(loop, key, self._ssl_h2, factory, deadline)
        if isinstance(conn, H1Connection):
            self._h1_origins.add(key)
            pool = self._h1.current_pool()
            pool.adopt(conn)
            # it waits in the pool for this request, not reused: it served none yet
            pool.checkin(conn)
            return None
        return conn  # type: ignore[no-any-return]

    async def _open(
        self,
        loop: asyncio.AbstractEventLoop,
        key: tuple[Any, ...],
        tls: ssl.SSLContext,
        factory: Any,
        deadline: Deadline,
    ) -> Any:
        """Connect and return the protocol (for HTTP/2: once the server's SETTINGS came),
        within connect_timeout and the request's `deadline`."""
        scheme, host, port = key[0], key[1], key[2]
        kwargs: dict[str, Any] = {}
        if scheme == "https":
            kwargs["ssl"] = tls
            kwargs["server_hostname"] = host
        clock = SetupClock()
        with connecting(host, port, "HTTP/2"):
            async with asyncio.timeout(self._connect_budget(deadline)):
                if len(key) > 3:
                    transport, proto = await open_via_proxy(
                        loop, self._resolver, key[3], (scheme, host, port), kwargs.get("ssl"),
                        self._ssl, factory, self._force == 2,
                    )
                else:
                    infos = await self._resolver.resolve(loop, host, port)
                    clock.resolved()
                    sock = await connect_socket(loop, infos)
                    clock.connected()
                    try:
                        transport, proto = await loop.create_connection(
                            factory, sock=sock, **kwargs
                        )
                    except BaseException:
                        sock.close()
                        raise
                if isinstance(proto, ALPNNegotiator):
                    proto = proto.protocol
                proto.setup = clock.setup(scheme == "https" and len(key) == 3)
                raw = transport.get_extra_info("socket")
                if raw is not None:
                    self._tune_socket(raw)
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
        self, loop: asyncio.AbstractEventLoop, key: tuple[str, str, int], deadline: Deadline
    ) -> H3Connection:
        """A new HTTP/3 connection, ready for requests (the QUIC handshake is done)."""
        from ._h3 import open_h3  # loaded by quic_factory already

        _scheme, host, port = key
        clock = SetupClock()
        with connecting(host, port, "HTTP/3"):
            async with asyncio.timeout(self._connect_budget(deadline)):
                infos = await self._resolver.resolve(loop, host, port)
                clock.resolved()
                conn = await open_h3(loop, key, infos, lambda: self._new_quic(host))
        conn.setup = clock.setup(True)
        return conn

    def _connect_budget(self, deadline: Deadline) -> float | None:
        """Seconds a connect may take: connect_timeout, within what is left of the
        request's total `timeout` (0 once it passed: the connect times out at once)."""
        timeout = self._connect_timeout
        if deadline is not None:
            left = max(0.0, deadline - time.monotonic())
            timeout = left if timeout is None else min(timeout, left)
        return timeout

    def _mux_for(self, key: tuple[Any, ...]) -> tuple[H2Pools | None, HTTPVersion]:
        """The multiplexed pools (HTTP/2 or HTTP/3) for an origin, None for HTTP/1.1."""
        if self._wants_h2(key):
            return self._h2, HTTPVersion.HTTP2
        if self._wants_h3(key):
            return self._h3, HTTPVersion.HTTP3
        return None, HTTPVersion.HTTP1

    # --- requests --------------------------------------------------------------------------
    def _fetch(
        self,
        method: str,
        url: str,
        headers: HeadersArg | None,
        content: Any,
        params: ParamsArg | None,
    ) -> Awaitable[FullResponse]:
        """Client's buffered path: the whole exchange without building a Request."""
        self._check_open()
        check_method(method)
        parsed = parse_url(with_params(url, params) if params is not None else url)
        h, body, is_json = to_body(headers, content)
        if watching(self._telemetry):
            return self._fetch_watched(method, parsed, h, body, is_json)
        return self._run(begin(self, method, parsed, h, body, is_json), True)

    async def _fetch_watched(
        self, method: str, parsed: ParsedURL, h: Headers | None, body: Any, is_json: bool
    ) -> FullResponse:
        """The buffered path under observation: streamed, so that a body failure still has
        the head's status and version; the span ends after the body."""
        watch = Watch(self._telemetry, method, parsed)
        try:
            response = await self._run(
                begin(self, method, parsed, watch.outgoing(h), body, is_json), False
            )
            watch.response(response.http_version, response.status)
            try:
                full = await read_full(response)
            except Exception as exc:
                as_buffered_read(exc)
                raise
        except BaseException as exc:
            watch.end(exc)
            raise
        watch.end()
        return full

    def execute(self, request: Request) -> Awaitable[Response]:
        """Send ``request``; resolves to the :class:`Response` as soon as its head arrived."""
        if watching(self._telemetry):
            return self._execute_watched(request)
        self._check_open()
        ex = begin(
            self, request.method, request._parsed, request.headers, request.content,
            request._json,
        )
        return self._run(ex, False)

    async def _execute_watched(self, request: Request) -> Response:
        """`execute` under observation: the span ends at the response head."""
        self._check_open()
        method, parsed = request.method, request._parsed
        watch = Watch(self._telemetry, method, parsed)
        try:
            ex = begin(
                self, method, parsed, watch.outgoing(request.headers), request.content,
                request._json,
            )
            response = await self._run(ex, False)
        except BaseException as exc:
            watch.end(exc)
            raise
        watch.at_head(response)
        return response

    @overload
    async def _run(self, ex: Exchange, buffered: Literal[True]) -> FullResponse: ...
    @overload
    async def _run(self, ex: Exchange, buffered: Literal[False]) -> Response: ...

    async def _run(self, ex: Exchange, buffered: bool) -> FullResponse | Response:
        """The asyncio loop of an exchange: send each hop, let `ex` decide after its head;
        the final response read whole (`buffered`) or at its head, its body streaming."""
        decoder = None
        while True:
            version, status, notable, raw_headers, payload, raw_trailers, stamps = (
                await self._send(ex, buffered)
            )
            response_headers = Headers._from_wire(raw_headers)
            if notable:
                try:
                    follow = ex.follow(status, notable, response_headers)
                    if not (follow or buffered):
                        decoder = ex.decoder(notable, response_headers)
                except BaseException:
                    if not buffered:
                        payload.abort()
                    raise
                if follow:
                    if not buffered:
                        # done with the 3xx: its connection goes back to the pool if it can
                        await Response._from_wire(
                            status, version, response_headers, payload, None
                        ).aclose()
                    continue
            if buffered:
                if notable:
                    full = ex.full(status, response_headers, payload, raw_trailers, notable)
                else:
                    trailers = Headers._from_wire(raw_trailers) if raw_trailers else Headers()
                    full = FullResponse(status, response_headers, payload, trailers)
                full._stamps = stamps
                return full
            return Response._from_wire(status, version, response_headers, payload, decoder)

    async def _send(
        self, ex: Exchange, buffered: bool
    ) -> tuple[
        HTTPVersion, int, int, list[tuple[str, str]], Any, list[tuple[str, str]] | None, Any
    ]:
        """One hop of `ex`: (version, status, notable header bits, header pairs, payload,
        trailer pairs, stamps). Buffered, the payload is the whole body and trailers are
        known; streamed, it is the body source (the HTTP/1.1 connection or the HTTP/2 stream,
        which holds the stamps) and trailers None."""
        method, parsed, is_json = ex.method, ex.url, ex.is_json
        body: Any = ex.body
        headers = ex.headers
        if self._jar is not None or parsed.userinfo is not None:
            headers = ex.request_headers()
        key = self._route(parsed)
        streamed = not isinstance(body, bytes)
        if streamed:
            # two owners may close it (the pump when it ends, we when the exchange failed)
            body = _ClosedOnce(body)
        replayable = method in REPLAYABLE_METHODS and not streamed
        try:
            mux, version = self._mux_for(key)
            if mux is not None:
                result = await mux.exchange(
                    key, self._h2_headers(method, parsed, headers, body, is_json), body or None,
                    buffered, replayable, ex.deadline,
                )
                if result is not None:
                    if buffered:
                        status, raw_headers, data, raw_trailers, stamps = result
                        return (version, status, notable_of(raw_headers), raw_headers, data,
                                raw_trailers, stamps)
                    return (version, result.status, notable_of(result.headers), result.headers,
                            result, None, None)
                # ALPN chose http/1.1 for this origin: on with HTTP/1.1
            head, body_len, chunked, close_after = self._head(
                method, parsed, headers, body, is_json, key
            )
            result = await self._h1.exchange(
                key, head, body if body or chunked else None, method == "HEAD", buffered,
                replayable, chunked, close_after, body_len, ex.deadline,
            )
        except BaseException:
            if streamed:
                with contextlib.suppress(Exception):
                    await body.aclose()
            raise
        if buffered:
            status, notable, _reason, raw_headers, data, raw_trailers, stamps = result
            return HTTPVersion.HTTP1, status, notable, raw_headers, data, raw_trailers, stamps
        p = result.parser
        return HTTPVersion.HTTP1, p.status, p.notable, p.headers, result, None, None


class _ClosedOnce:
    """A streamed request body as the pools get it: iterating it is iterating the caller's
    iterator itself (nothing added per chunk); `aclose` closes that iterator the first time
    only, whoever calls it."""

    __slots__ = ("_body", "_closed")

    def __init__(self, body: Any) -> None:
        self._body = body
        self._closed = False

    def __aiter__(self) -> Any:
        return self._body.__aiter__()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        aclose = getattr(self._body, "aclose", None)
        if aclose is not None:
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
