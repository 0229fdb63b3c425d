"""SyncHTTPTransport: the blocking transport (spec §2), on the same policy as HTTPTransport.

Options, validation, TLS contexts and the request head come from TransportCore; cookies,
redirects, decoding and the deadline from the Exchange (_exchange_driver), run by `_final`'s
loop; this module adds blocking connections: SyncH1Connection in a thread-safe pool,
one multiplexed SyncH2Connection per origin (ALPN on TLS, prior knowledge for h2c), or with
``http_version=HTTP3`` one SyncH3Connection (QUIC, pyqwest._h3.blocking).
One transport may be shared by any number of threads.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from time import monotonic
from typing import Any

from cpqwest._errors import ReadError, RemoteProtocolError, connecting
from cpqwest._pool import RouteStats, opened_on

from ._deadline import Deadline, earliest, time_left
from ._dns import connect_socket_sync
from ._exchange_driver import Exchange, begin
from ._h2.errors import may_resend
from ._h2.resend import MAX_ATTEMPTS, ResendTarget, Rotation, next_serial
from ._headers import Headers
from ._http3 import quic_factory
from ._observe import Watch, watching
from ._policy import notable_of
from ._pool_stats import PoolStats, collect
from ._response import FullResponse
from ._sync_h1 import SyncH1Connection, close_body
from ._sync_h2 import SyncH2Connection, SyncH2Stream, Unusable
from ._sync_pool import SyncPool
from ._sync_proxy import open_via_proxy_sync
from ._sync_request import SyncRequest
from ._sync_response import SyncResponse
from ._sync_timeout import sync_deadline
from ._sync_tls import TLSSocket, start_tls
from ._timings import Setup, SetupClock
from ._transport_core import REPLAYABLE_METHODS, TransportCore
from ._version import HTTPVersion

Key = tuple[Any, ...]  # (scheme, host, port[, Proxy])


class SyncHTTPTransport(TransportCore):
    """A blocking HTTP transport: pooled HTTP/1.1 and multiplexed HTTP/2 (or HTTP/3)
    connections per origin, shared by threads. Options (keyword-only) are HTTPTransport's,
    with the same defaults and validation (spec §1.10); the deadline of `set_sync_timeout`
    applies too."""

    def _init_pools(self, idle_timeout: float | None, max_idle: int | None) -> None:
        if self._force == 3:
            self._new_quic = quic_factory(self, idle_timeout)
        self._pool = SyncPool(idle_timeout, max_idle)
        self._idle_timeout = idle_timeout
        # one multiplexed HTTP/2 connection per origin; a lock per origin while connecting
        self._h2_lock = threading.Lock()
        self._h2_conns: dict[Key, SyncH2Connection] = {}
        self._h2_connecting: dict[Key, threading.Lock] = {}
        self._h2_rotation = Rotation()  # what GOAWAYs told of the servers' stream limits
        self._h2_stats: dict[Key, RouteStats] = {}  # per origin (pool statistics)

    # --- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> SyncHTTPTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection (idempotent); threads blocked reading one wake with
        ReadError. Later requests raise RuntimeError."""
        self._closed = True
        self._pool.close()
        with self._h2_lock:
            conns, self._h2_conns = list(self._h2_conns.values()), {}
        for conn in conns:
            conn.close(ReadError("transport closed"))

    def pool_stats(self) -> list[PoolStats]:
        """The connections per route (origin, proxy) and HTTP version: idle and in use now,
        and since the transport was made, opened, reused, closed (by error, by the idle
        timeout); for HTTP/2 also the requests waiting for a stream slot. Cheap (no I/O, a
        few dict reads per route): fit to poll every second from a metrics exporter; safe
        from any thread."""
        out = list(collect(HTTPVersion.HTTP1, self._pool.stats, self._pool.idle_by_key()))
        with self._h2_lock:
            conns = list(self._h2_conns.items())
        idle = {key: int(not c.closed and not c.streams) for key, c in conns}
        waiting = {key: c.waiting for key, c in conns}
        # one multiplexed table: a route is HTTP/3 when it goes over QUIC, else HTTP/2
        for version, over_quic in ((HTTPVersion.HTTP2, False), (HTTPVersion.HTTP3, True)):
            stats = {k: v for k, v in self._h2_stats.items() if self._wants_h3(k) == over_quic}
            out.extend(collect(version, stats, idle, waiting))
        return out

    # --- requests ------------------------------------------------------------------------------
    def execute_sync(self, request: SyncRequest) -> SyncResponse:
        """Execute `request`; returns once the response head arrived (the body streams)."""
        if not watching(self._telemetry):
            return self._respond(request, request.headers)
        self._check_open()
        watch = Watch(self._telemetry, request.method, request._parsed)
        try:
            response = self._respond(request, watch.outgoing(request.headers))
        except BaseException as exc:
            watch.end(exc)
            raise
        watch.at_head(response)
        return response

    def _respond(self, request: SyncRequest, h: Headers | None) -> SyncResponse:
        ex, conn, version, status, headers, notable = self._final(request, False, h)
        try:
            decoder = ex.decoder(notable, headers)
        except BaseException:
            conn.abort()
            raise
        return SyncResponse._from_wire(status, version, headers, conn, decoder)

    def _execute_full(self, request: SyncRequest) -> FullResponse:
        """SyncClient's buffered path: the whole response (a large HTTP/1.1 body is read
        straight into its final bytes); under observation the span ends after the body."""
        if not watching(self._telemetry):
            return self._whole(*self._final(request, True, request.headers))
        self._check_open()
        watch = Watch(self._telemetry, request.method, request._parsed)
        try:
            ex, conn, version, status, headers, notable = self._final(
                request, True, watch.outgoing(request.headers)
            )
            watch.response(version, status)
            full = self._whole(ex, conn, version, status, headers, notable)
        except BaseException as exc:
            watch.end(exc)
            raise
        watch.end()
        return full

    def _whole(
        self, ex: Exchange, conn: SyncH1Connection | SyncH2Stream, _version: HTTPVersion,
        status: int, headers: Headers, notable: int,
    ) -> FullResponse:
        """Read the body after a final head into a FullResponse."""
        data = conn.read_all()
        raw_trailers = conn.parser.trailers
        conn.release()
        full = ex.full(status, headers, data, raw_trailers, notable)
        full._stamps = conn.stamps
        return full

    def _final(
        self, request: SyncRequest, buffered: bool, h: Headers | None
    ) -> tuple[Exchange, SyncH1Connection | SyncH2Stream, HTTPVersion, int, Headers, int]:
        """The blocking loop of an exchange: send each hop, let the `Exchange` decide after
        its head; the final response's connection positioned after its head, with its
        version, status, headers and notable bits."""
        self._check_open()
        ex = begin(
            self, request._method, request._parsed, h, request._content, request._json,
            sync_deadline(),
        )
        while True:
            conn = self._send(ex, buffered)
            raw: list[tuple[str, str]] | None
            if isinstance(conn, SyncH2Stream):
                version, status, raw = conn.conn.version, conn.status, conn.headers
                notable = notable_of(conn.headers)
            else:
                p = conn.parser
                version, status, raw, notable = HTTPVersion.HTTP1, p.status, p.headers, p.notable
            response_headers = Headers._from_wire(raw or [])
            if notable:
                try:
                    follow = ex.follow(status, notable, response_headers)
                except BaseException:
                    conn.abort()
                    raise
                if follow:
                    # done with the 3xx: its connection goes back to the pool if it can
                    SyncResponse._from_wire(status, version, response_headers, conn, None).close()
                    continue
            return ex, conn, version, status, response_headers, notable

    def _send(self, ex: Exchange, buffered: bool = False) -> SyncH1Connection | SyncH2Stream:
        """One hop of `ex` up to the response head, with the stale-connection retry (HTTP/2:
        also streams the server refused or never processed)."""
        method, parsed, is_json, deadline = ex.method, ex.url, ex.is_json, ex.deadline
        body: bytes | Iterator[bytes] = ex.body  # type: ignore[assignment]  # (sync content)
        headers = ex.request_headers()
        key = self._route(parsed)
        started = monotonic()  # response.timings counts from here
        streamed = not isinstance(body, bytes)
        replayable = method in REPLAYABLE_METHODS and not streamed
        fresh: SyncH1Connection | None = None
        try:
            if self._wants_h2(key) or self._wants_h3(key):
                result = self._send_h2(
                    key, self._h2_headers(method, parsed, headers, body, is_json), body,
                    method in REPLAYABLE_METHODS, deadline,
                )
                if isinstance(result, SyncH2Stream):
                    result.stamps.start = started
                    return result
                fresh = result  # ALPN chose http/1.1: this new connection carries it
            # the head first: a caller's framing fields it refuses leave no connection in use
            head, length, chunked, close_after = self._head(
                method, parsed, headers, body, is_json, key
            )
            if fresh is None:
                fresh = self._pool.checkout(key)  # type: ignore[assignment]
        except BaseException:
            if streamed:
                close_body(body)  # never pulled
            raise
        retried = False
        while True:
            # the retry goes out on a new connection: another pooled one may be just as stale
            conn, fresh = fresh, None
            if conn is None:
                try:
                    conn = self._connect_h1(key, deadline)
                except BaseException:
                    if streamed:
                        close_body(body)  # never pulled
                    raise
            conn.close_after = close_after
            try:
                conn.start(
                    head, body if body or chunked else None, chunked, method == "HEAD",
                    deadline, self._read_timeout, buffered, length,
                )
                if conn.stamps is not None:  # always, after start()
                    conn.stamps.start = started
                return conn
            except BaseException:
                if replayable and not retried and conn.reused and not conn.got_bytes:
                    # the peer closed this idle connection as we sent: once more, fresh
                    retried = True
                    continue
                raise

    def _send_h2(
        self,
        key: Key,
        headers: list[tuple[str, str]],
        body: bytes | Iterator[bytes],
        idempotent: bool,
        deadline: Deadline,
    ) -> SyncH2Stream | SyncH1Connection:
        """Open a stream on the origin's HTTP/2 connection; a request whose stream the server
        refused or never processed (or that failed on a stale connection) goes once more on
        another connection when the async driver's rule (`may_resend`) allows. A new TLS
        connection on which ALPN chose http/1.1 is returned for the HTTP/1.1 exchange."""
        target: ResendTarget | None = None  # where the one resend may go
        unsent = 0  # connections that stopped taking streams before this one was sent
        while True:
            conn = self._h2_connection(key, deadline, target)
            if isinstance(conn, SyncH1Connection):
                return conn
            try:
                return conn.open_stream(headers, body or None, deadline, self._read_timeout)
            except Unusable as exc:
                if exc.error is None:
                    # nothing was sent (the connection retired while this one waited for a
                    # slot): the next connection, the resend not spent
                    unsent += 1
                    if unsent <= MAX_ATTEMPTS:
                        continue
                    raise RemoteProtocolError(
                        "Request failed: HTTP/2 connection stopped taking streams") from None
                if target is not None or not may_resend(
                        exc.why, idempotent, isinstance(body, bytes)):
                    raise exc.error from None
                conn.retire()  # REFUSED_STREAM too: the streams that follow go elsewhere
                target = ResendTarget.after_failure(conn.retired_at, conn.processed, conn.opened)

    def _h2_connection(
        self, key: Key, deadline: Deadline, target: ResendTarget | None
    ) -> SyncH2Connection | SyncH1Connection:
        """The origin's HTTP/2 connection (for a resend, one `target` fits), made by one
        thread while the others wait for it."""
        with self._h2_lock:
            conn = self._h2_conns.get(key)
            if conn is not None and _fits(conn, target) and conn.take(self._idle_timeout):
                return conn
            gate = self._h2_connecting.setdefault(key, threading.Lock())
        with gate:
            with self._h2_lock:
                conn = self._h2_conns.get(key)
                if conn is not None and _fits(conn, target) and conn.take(self._idle_timeout):
                    return conn  # another thread connected meanwhile
            host, port = key[1], key[2]
            until = earliest(deadline, self._connect_timeout)
            serial = next_serial()
            if self._wants_h3(key):
                made_h3 = self._connect_h3(key, until)
                made_h3.serial = serial
                return self._keep(key, made_h3)
            sock, setup = self._open(key, until, self._ssl_h2)
            if (isinstance(sock, TLSSocket) and not self._force
                    and sock.selected_alpn_protocol() != "h2"):
                self._h1_origins.add(key)
                return self._track(SyncH1Connection(sock, key, self._pool), setup)
            sock.settimeout(None)  # waits are bounded by select(); reads and writes block
            made = SyncH2Connection(sock, key)
            made.serial = serial
            made.rotation = self._h2_rotation
            made.budget = self._h2_rotation.budget(key)
            made.setup = setup
            try:
                with connecting(host, port):
                    made.start(until)
            except BaseException:
                made.close()
                raise
            return self._keep(key, made)

    def _keep(self, key: Key, made: SyncH2Connection) -> SyncH2Connection:
        """A new multiplexed connection becomes the origin's (unless the transport closed);
        the one it replaces is too old for a resend: it finishes its streams, then closes."""
        with self._h2_lock:
            if self._closed:
                made.close()
                raise RuntimeError("Request failed: already closed transport")
            old = self._h2_conns.get(key)
            self._h2_conns[key] = made
            made.stats = opened_on(self._h2_stats, key)
        if old is not None:
            old.retire()
        return made

    def _connect_h3(self, key: Key, until: float | None) -> SyncH2Connection:
        """A new HTTP/3 connection, ready for requests (the QUIC handshake is done)."""
        from ._h3.blocking import open_h3_sync  # loaded by quic_factory already

        host, port = key[1], key[2]
        with connecting(host, port, "HTTP/3"):
            clock = SetupClock()
            infos = self._resolver.resolve_sync(host, port)
            clock.resolved()
            conn = open_h3_sync(key, infos, lambda: self._new_quic(host), until)
        conn.setup = clock.setup(True)
        return conn

    def _connect_h1(self, key: Key, deadline: Deadline) -> SyncH1Connection:
        """A new HTTP/1.1 connection (TLS: ALPN offers only http/1.1), in use by the caller."""
        sock, setup = self._open(key, earliest(deadline, self._connect_timeout), self._ssl)
        return self._track(SyncH1Connection(sock, key, self._pool), setup)

    def _track(self, conn: SyncH1Connection, setup: Setup) -> SyncH1Connection:
        conn.setup = setup
        if not self._pool.track(conn):
            raise RuntimeError("Request failed: already closed transport")
        return conn

    def _open(
        self, key: Key, until: float | None, tls: ssl.SSLContext
    ) -> tuple[socket.socket | TLSSocket, Setup]:
        """A connected socket (TLS handshake done on https) by `until`, and how long its
        setup took (response.timings); connect errors."""
        scheme, host, port = key[0], key[1], key[2]
        clock = SetupClock()
        with connecting(host, port):
            if len(key) > 3:
                sock = open_via_proxy_sync(
                    self._resolver, key[3], (scheme, host, port),
                    tls if scheme == "https" else None, self._ssl, until, self._force == 2,
                    self._tune_socket,
                )
                return sock, clock.setup(False)
            infos = self._resolver.resolve_sync(host, port)
            clock.resolved()
            raw = connect_socket_sync(infos, until)
            clock.connected()
            try:
                self._tune_socket(raw)
                if scheme != "https":
                    return raw, clock.setup(False)
                sock = start_tls(raw, tls, host, time_left(until))
                return sock, clock.setup(True)
            except BaseException:
                raw.close()
                raise


_default: SyncHTTPTransport | None = None
_default_lock = threading.Lock()


def get_default_sync_transport() -> SyncHTTPTransport:
    """The process-wide transport of sync clients made without one (certifi + OS roots)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = _DefaultSyncTransport(tls_include_system_certs=True)
        return _default


class _DefaultSyncTransport(SyncHTTPTransport):
    def close(self) -> None:
        # shared by every default SyncClient: closing it would break the others
        return None


def _fits(conn: SyncH2Connection, target: ResendTarget | None) -> bool:
    """Whether `conn` may carry a request (a resend when `target` is set)."""
    return target is None or target.fits(conn)
