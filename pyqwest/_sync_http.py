"""SyncHTTPTransport: the blocking transport (spec §2), on the same policy as HTTPTransport.

Options, validation, TLS contexts, the request head, cookies, redirects and decoding come from
TransportCore; this module adds blocking connections (SyncH1Connection) in a thread-safe pool.
One transport may be shared by any number of threads.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from types import TracebackType

from cpqwest._errors import connecting
from cpqwest._parser import HAS_CONTENT_ENCODING

from ._deadline import earliest, start_deadline, time_left
from ._dns import connect_socket_sync
from ._headers import Headers
from ._policy import outgoing_headers, response_decoder
from ._sync_h1 import SyncH1Connection, close_body
from ._sync_pool import SyncPool
from ._sync_request import SyncRequest
from ._sync_response import SyncResponse
from ._sync_timeout import sync_deadline
from ._sync_tls import TLSSocket
from ._transport_core import REPLAYABLE_METHODS, TransportCore
from ._url import ParsedURL
from ._version import HTTPVersion

Key = tuple[str, str, int]


class SyncHTTPTransport(TransportCore):
    """A blocking HTTP transport: pooled HTTP/1.1 (and TLS) connections per origin, shared
    by threads. Options (keyword-only) are HTTPTransport's, with the same defaults and
    validation (spec §1.10); the per-call deadline of `set_sync_timeout` applies too."""

    def _init_pools(self, idle_timeout: float | None, max_idle: int | None) -> None:
        if self._force == 2:
            raise ValueError("HTTP/2 is not supported by SyncHTTPTransport yet")
        self._pool = SyncPool(idle_timeout, max_idle)

    # --- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> SyncHTTPTransport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection (idempotent); threads blocked reading one wake with
        ReadError. Later requests raise RuntimeError."""
        self._closed = True
        self._pool.close()

    # --- requests ------------------------------------------------------------------------------
    def execute_sync(self, request: SyncRequest) -> SyncResponse:
        """Execute `request`; returns once the response head arrived (the body streams)."""
        self._check_open()
        deadline = start_deadline(self._timeout, sync_deadline())
        method, parsed = request.method, request._parsed
        h: Headers | None = request.headers
        body, is_json = request.content, request._json
        hops = 0
        while True:
            conn = self._send(method, parsed, h, body, is_json, deadline)
            p = conn.parser
            response_headers = Headers._from_wire(p.headers or [])
            decoder = None
            if p.notable:
                try:
                    hop = self._next_hop(
                        method, parsed, h, body, is_json, p.status, p.notable, response_headers,
                        hops,
                    )
                    if p.notable & HAS_CONTENT_ENCODING and hop is None:
                        decoder = response_decoder(response_headers, self._codings)
                except BaseException:
                    conn.abort()
                    raise
                if hop is not None:
                    # done with the 3xx: its connection goes back to the pool if it can
                    SyncResponse._from_wire(
                        p.status, HTTPVersion.HTTP1, response_headers, conn, None).close()
                    hops += 1
                    method, parsed, h, body, is_json = hop
                    continue
            return SyncResponse._from_wire(
                p.status, HTTPVersion.HTTP1, response_headers, conn, decoder)

    def _send(
        self,
        method: str,
        parsed: ParsedURL,
        headers: Headers | None,
        body: bytes | Iterator[bytes],
        is_json: bool,
        deadline: float | None,
    ) -> SyncH1Connection:
        """One exchange up to the response head, with the stale-connection retry."""
        if self._jar is not None or parsed.userinfo is not None:
            headers = outgoing_headers(parsed, headers, self._jar)
        key = (parsed.scheme, parsed.host, parsed.port)
        streamed = not isinstance(body, bytes)
        replayable = method in REPLAYABLE_METHODS and not streamed
        head, chunked, close_after = self._head(method, parsed, headers, body, is_json)
        retried = False
        while True:
            # the retry goes out on a new connection: another pooled one may be just as stale
            conn = None if retried else self._pool.checkout(key)
            if conn is None:
                try:
                    conn = self._connect(key, deadline)
                except BaseException:
                    if streamed:
                        close_body(body)  # never pulled
                    raise
            assert isinstance(conn, SyncH1Connection)
            conn.close_after = close_after
            try:
                conn.start(
                    head, body or None, chunked, method == "HEAD", deadline, self._read_timeout
                )
                return conn
            except BaseException:
                if replayable and not retried and conn.reused and not conn.got_bytes:
                    # the peer closed this idle connection as we sent: once more, fresh
                    retried = True
                    continue
                raise

    def _connect(self, key: Key, deadline: float | None) -> SyncH1Connection:
        """A new connection (TLS: ALPN offers only http/1.1), in use by the calling thread."""
        scheme, host, port = key
        until = earliest(deadline, self._connect_timeout)
        with connecting(host, port):
            infos = self._resolver.resolve_sync(host, port)
            raw = connect_socket_sync(infos, until)
            sock: socket.socket | TLSSocket = raw
            try:
                self._tune_socket(raw)
                if scheme == "https":
                    raw.settimeout(time_left(until))
                    sock = TLSSocket(raw, self._ssl, host)
                    sock.handshake()
            except BaseException:
                raw.close()
                raise
        conn = SyncH1Connection(sock, key, self._pool)
        if not self._pool.track(conn):
            raise RuntimeError("Request failed: already closed transport")
        return conn


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
