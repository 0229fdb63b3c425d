"""SyncH1Connection: one HTTP/1.1 connection over a blocking socket, for SyncHTTPTransport.

It drives the same llhttp ResponseParser as the asyncio protocol and maps failures with the
same classifier (cpqwest._errors). Every blocking call (sendall, recv_into) releases the GIL.
A connection is used by one thread at a time (plus its upload thread), except `abort()`, which
any thread may call: it shuts the socket down so a blocked reader wakes at once, and the socket
is closed by the last thread that was using it (never under another thread's system call).
"""

from __future__ import annotations

import contextlib
import contextvars
import select
import socket
import ssl
import threading
from collections.abc import Hashable, Iterator
from typing import Any

from cpqwest._errors import (
    ReadError,
    RemoteProtocolError,
    WriteError,
    exchange_error,
    read_error,
    write_error,
)
from cpqwest._parser import ResponseParser
from cpqwest._pool import RouteStats
from cpqwest._stamps import Stamps

from ._deadline import time_left
from ._sync_pool import SyncPool
from ._sync_tls import TLSSocket
from ._timings import Setup

READ_BUFFER_SIZE = 1 << 18
# A bytes body up to this size is joined to the head: one sendall.
JOIN_BODY_MAX = 65536


def close_body(body: Any) -> None:
    """Close a request body iterator (a generator another thread runs cannot be closed)."""
    close = getattr(body, "close", None)
    if close is not None:
        with contextlib.suppress(Exception):
            close()


class SyncH1Connection:
    """An HTTP/1.1 connection: writes a request, reads the response head and body."""

    __slots__ = (
        "__weakref__", "_buf", "_busy", "_deadline", "_lock", "_read_timeout", "_sock_closed",
        "_sock_timeout", "_tls", "_view", "close_after", "closed", "error", "got_bytes",
        "idle_since", "key", "parser", "pool", "request_sent", "reused", "setup", "sock",
        "stamps", "stats",
    )

    def __init__(self, sock: socket.socket | TLSSocket, key: Hashable, pool: SyncPool) -> None:
        self.sock = sock
        self.key = key
        self.pool = pool
        self._tls = isinstance(sock, TLSSocket)
        self.parser = ResponseParser()
        self._buf = bytearray(READ_BUFFER_SIZE)
        self._view = memoryview(self._buf)
        # guards error/closed/_busy against abort() from other threads
        self._lock = threading.Lock()
        self._busy = 0            # threads inside a socket call
        self._sock_closed = False
        self._sock_timeout: float | None = sock.gettimeout()
        self._deadline: float | None = None
        self._read_timeout: float | None = None
        self.error: BaseException | None = None
        self.closed = False
        self.reused = False
        self.got_bytes = False
        self.request_sent = True
        self.close_after = False
        self.idle_since = 0.0
        # (dns, connect, tls) until the first exchange takes them; its clock readings
        self.setup: Setup | None = None
        self.stamps = Stamps()
        self.stats: RouteStats | None = None  # its route's counters (pool statistics)

    # --- one exchange ------------------------------------------------------------------------
    def start(
        self,
        head: bytes,
        body: bytes | Iterator[bytes] | None,
        chunked: bool,
        head_request: bool,
        deadline: float | None,
        read_timeout: float | None,
        collect: bool = False,
        length: int = -1,
    ) -> None:
        """Send a request and read up to the end of its response head; raises the spec's
        errors. `body` goes chunked when `chunked`, else as is (a streamed one must give
        exactly the `length` its head declares, when >= 0); a streamed one is pumped by a
        worker thread, started only now. `collect`: the body will be read whole
        (`read_all`), a large one straight into its bytes."""
        self.parser.reset(head_request, collect)
        if self.setup is None and self.stats is not None:
            self.stats.reused += 1
        self.stamps = Stamps(self.setup)
        self.setup = None
        if chunked and (body is None or isinstance(body, bytes)):
            body = (_chunk(body) if body else b"") + b"0\r\n\r\n"
        self._deadline = deadline
        self._read_timeout = read_timeout
        self.got_bytes = False
        streamed = body is not None and not isinstance(body, bytes)
        self.request_sent = not streamed
        try:
            if isinstance(body, bytes) and len(body) <= JOIN_BODY_MAX:
                self._send(head + body)
            else:
                self._send(head)
                if isinstance(body, bytes):
                    self._send(body)
        except BaseException as exc:
            if streamed:
                close_body(body)  # never pulled: the connection failed first
            raise self._head_error(exc) from None
        if not streamed:
            self.stamps.stamp_sent()
        if streamed:
            ctx = contextvars.copy_context()
            threading.Thread(
                target=ctx.run, args=(self._upload, body, chunked, length), daemon=True,
                name="pyqwest-upload",
            ).start()
        p = self.parser
        try:
            while not p.head_done and not p.message_done:
                self._fill()
        except BaseException as exc:
            raise self._head_error(exc) from None

    def _head_error(self, cause: BaseException) -> BaseException:
        exc = exchange_error(cause, self.parser.head_done, False, self.request_sent)
        self.abort(exc)
        return exc

    def read_all(self) -> bytes:
        """The rest of the body, whole (after `start(collect=True)`); raises the spec's
        errors for a buffered read."""
        p = self.parser
        try:
            while not p.message_done:
                window = p.direct_window_py()
                if window is None:
                    self._fill()  # the last byte, or a body not read directly
                else:
                    p.direct_filled_py(self._recv(window))
        except BaseException as exc:
            err = exchange_error(exc, True, True, self.request_sent)
            self.abort(err)
            raise err from None
        if not self.stamps.done:
            self.stamps.stamp_done()
        return p.take_body()

    def read_chunk(self) -> bytes | None:
        """The next body piece, None at the end; raises the spec's read errors."""
        p = self.parser
        while True:
            if p.body_size:
                return p.take_body()
            if p.message_done:
                return None
            try:
                self._fill()
            except BaseException as exc:
                err = read_error(exc)
                self.abort(err)
                raise err from None

    # --- socket calls ------------------------------------------------------------------------
    def _enter(self) -> None:
        with self._lock:
            if self.error is not None:
                raise self.error
            if self.closed:
                raise ReadError("connection closed")
            self._busy += 1

    def _leave(self) -> BaseException | None:
        """Done with a socket call; the error another thread set meanwhile, if any."""
        with self._lock:
            self._busy -= 1
            close_now = self.closed and not self._busy and not self._sock_closed
            if close_now:
                self._sock_closed = True
            err = self.error
            if err is None and self.closed:
                err = ReadError("connection closed")
        if close_now:
            self.sock.close()
        return err

    def _set_timeout(self, timeout: float | None) -> None:
        if timeout != self._sock_timeout:
            self.sock.settimeout(timeout)
            self._sock_timeout = timeout

    def _send(self, data: bytes | bytearray | memoryview) -> None:
        timeout = time_left(self._deadline)
        self._enter()
        try:
            self._set_timeout(timeout)
            self.sock.sendall(data)
        finally:
            err = self._leave()
        if err is not None:
            raise err

    def _fill(self) -> None:
        """One recv_into the read buffer, fed to the parser."""
        n = self._recv(self._view)
        self.parser.feed_data(self._view[:n])
        if self.parser.message_done:
            self.stamps.stamp_done()

    def _recv(self, view: memoryview) -> int:
        """One recv_into `view`: the byte count; 0 when the peer's close ended the message
        (a close that truncates it raises)."""
        timeout = time_left(self._deadline, self._read_timeout)
        self._enter()
        n = -1
        cause: BaseException | None = None
        try:
            self._set_timeout(timeout)
            n = self.sock.recv_into(view)
        except TimeoutError:
            cause = TimeoutError(
                "read timed out" if timeout == self._read_timeout else "request timed out")
        except (ssl.SSLError, ConnectionResetError) as exc:
            cause = exc
            if self._tls and not self.reused and not self.got_bytes:
                # TLS 1.3 servers reject a client certificate after our side of the handshake:
                # an alert, or a reset when it overtook the alert
                cause = ConnectionError(f"TLS connection rejected by the server: {exc}")
        except OSError as exc:
            cause = exc
        finally:
            err = self._leave()
        if err is not None:
            raise err
        if cause is not None:
            raise cause
        if n == 0:
            if self.parser.feed_eof_py():
                return 0
            if self._tls and not self.reused:
                raise ConnectionError("TLS connection closed by the server before any response")
            raise RemoteProtocolError("connection closed before any response")
        if not self.got_bytes:
            self.got_bytes = True
            self.stamps.stamp_first()
        return n

    def _upload(self, body: Iterator[bytes], chunked: bool, length: int) -> None:
        """Pump a streamed body (on a worker thread); always closes the iterator. Unchunked,
        it sends exactly `length` bytes (when >= 0), as the async upload does. A failure
        aborts the connection, which wakes the reader with the WriteError."""
        sent = 0
        try:
            for chunk in body:
                if not isinstance(chunk, (bytes, bytearray, memoryview)):
                    raise TypeError(
                        f"Request body chunk must be bytes, got {type(chunk).__name__}")
                if not chunk:
                    continue
                if not chunked and length >= 0:
                    sent += len(chunk)
                    if sent > length:
                        raise ValueError(
                            f"request body longer than its Content-Length ({length})")
                self._send(_chunk(bytes(chunk)) if chunked else chunk)
            if chunked:
                self._send(b"0\r\n\r\n")
            elif 0 <= length != sent:
                raise ValueError(
                    f"request body shorter than its Content-Length ({sent} of {length} bytes)")
            self.request_sent = True
            self.stamps.stamp_sent()
        except BaseException as exc:
            if isinstance(exc, WriteError) or self.error is None:
                self.abort(write_error(exc))
            # else the connection failed first (reset, response closed): its reader says so
        finally:
            close_body(body)

    # --- end of an exchange --------------------------------------------------------------------
    def release(self) -> None:
        """The response is finished with: back to the pool if reusable, else closed."""
        p = self.parser
        if (p.message_done and p.keep_alive and not p.trailing_data and self.request_sent
                and not self.close_after and self.error is None and not self.closed):
            self.pool.checkin(self)
        else:
            self.close()

    def alive(self) -> bool:
        """A cheap check on checkout that the idle peer did not close (or write to) us."""
        try:
            if self.sock.fileno() < 0:
                return False
            if not _readable(self.sock):
                return True
        except (OSError, ValueError):
            return False
        # readable: EOF or bytes nobody asked for, unless only TLS records (session tickets)
        sock = self.sock
        return isinstance(sock, TLSSocket) and sock.pending_records()

    def abort(self, exc: BaseException | None = None) -> None:
        """Give up on this connection, from any thread: a thread blocked on its socket wakes
        at once (with `exc`); it is never reused."""
        with self._lock:
            if exc is not None and self.error is None:
                self.error = exc
            if not self.closed and self.stats is not None:
                self.stats.closed += 1
                if self.error is not None:
                    self.stats.closed_error += 1
            self.closed = True
            busy = self._busy
            close_now = not busy and not self._sock_closed
            if close_now:
                self._sock_closed = True
        if close_now:
            self.sock.close()
        elif busy:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
        self.pool.forget(self)

    def close(self) -> None:
        """Close for good (idle eviction, not reusable, pool closing)."""
        self.abort(None)


def _chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (RFC 9112 §7.1)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


def _readable(sock: socket.socket | TLSSocket) -> bool:
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))
    r, _, _ = select.select([sock], [], [], 0)
    return bool(r)
