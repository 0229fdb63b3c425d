"""TLS over a blocking socket for the sync drivers, through `ssl.SSLObject` and memory BIOs.

An `ssl.SSLSocket` must not be read by one thread while another writes to it (OpenSSL's SSL
objects are not safe for concurrent use; a streamed upload next to a blocked read broke with
"EOF occurred in violation of protocol"). Here the SSLObject is touched only under a short
lock and never while blocking: raw socket reads and writes happen outside it, so one thread
can wait for the response while another sends the body (or, on HTTP/2, other streams' frames).
Same SSLContexts as the async transport.
"""

from __future__ import annotations

import socket
import ssl
import threading
from typing import cast

_RECV_SIZE = 1 << 18

# Each thread's buffer for raw reads, copied into the incoming BIO at once. A fresh bytes object
# of _RECV_SIZE per read (socket.recv) is above malloc's mmap threshold: every read paid an
# mmap, an mremap and a munmap, and page faults. A TLSSocket inside another (a proxy's tunnel)
# hands this same buffer to the outer one's recv_into, which writes into it only after its own
# _feed has copied its raw bytes out.
_scratch = threading.local()


def _read_view() -> memoryview:
    try:
        view: memoryview = _scratch.view
    except AttributeError:
        view = _scratch.view = memoryview(bytearray(_RECV_SIZE))
    return view


class TLSSocket:
    """The part of the socket API the sync drivers use, with TLS in between."""

    __slots__ = ("_in", "_lock", "_maybe_more", "_obj", "_out", "_send_lock", "raw")

    def __init__(
        self, raw: socket.socket | TLSSocket, ctx: ssl.SSLContext, server_hostname: str
    ) -> None:
        self.raw = raw
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._obj = ctx.wrap_bio(self._in, self._out, server_hostname=server_hostname)
        self._lock = threading.Lock()       # the SSLObject and its BIOs
        self._send_lock = threading.Lock()  # keeps TLS records in order on the wire
        # the last read filled its buffer: the SSLObject may hold more of the record. Else,
        # with nothing in the incoming BIO, a read would only say "want read"; each SSLObject
        # call releases the GIL, which between threads of one HTTP/2 connection costs two
        # context switches, so such reads are skipped
        self._maybe_more = False

    def handshake(self) -> None:
        """The TLS handshake (the raw socket's timeout applies to each read and write)."""
        while True:
            try:
                with self._lock:
                    self._obj.do_handshake()
            except ssl.SSLWantReadError:
                self._flush()
                if not self._feed():
                    raise ssl.SSLEOFError("EOF occurred during the TLS handshake") from None
                continue
            self._flush()
            return

    def selected_alpn_protocol(self) -> str | None:
        """The protocol ALPN chose, None if none."""
        return self._obj.selected_alpn_protocol()

    def recv_into(self, buf: memoryview) -> int:
        """Read application data into `buf`; 0 at the end (close_notify or the peer's FIN)."""
        while True:
            n = self.read_buffered(buf)
            if n is not None:
                return n
            if self._out.pending:
                self._flush()  # a post-handshake reply (key update)
            if not self._feed():
                with self._lock:
                    self._in.write_eof()
                self._maybe_more = True  # the next read reports the end

    def read_buffered(self, buf: memoryview) -> int | None:
        """Application data already received, without reading the socket: the byte count
        (0 at the end), None when more must be read first."""
        if not self._in.pending and not self._maybe_more:
            return None
        size = len(buf)
        try:
            with self._lock:
                # with a buffer, read() returns the byte count (typeshed says bytes)
                n = cast(int, self._obj.read(size, buf))
        except ssl.SSLWantReadError:
            self._maybe_more = False
            return None
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return 0  # like SSLSocket's suppress_ragged_eofs: framing decides
        self._maybe_more = n == size
        return n

    def sendall(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypt and send all of `data`."""
        with self._send_lock:
            with self._lock:
                self._obj.write(data)
                out = self._out.read()
            self.raw.sendall(out)

    def pending_records(self) -> bool:
        """For an idle connection whose socket is readable: True if what arrived was only
        TLS housekeeping (session tickets), False if it was data or the end."""
        timeout = self.raw.gettimeout()
        self.raw.setblocking(False)
        view = _read_view()
        try:
            n = self.raw.recv_into(view)
        except BlockingIOError:
            return True
        except OSError:
            return False
        finally:
            self.raw.settimeout(timeout)
        if not n:
            return False
        with self._lock:
            self._in.write(view[:n])
            try:
                self._obj.read(1)
            except ssl.SSLWantReadError:
                return True
            except ssl.SSLError:
                return False
        return False

    def _flush(self) -> None:
        with self._send_lock:
            with self._lock:
                out = self._out.read()
            if out:
                self.raw.sendall(out)

    def _feed(self) -> bool:
        view = _read_view()
        n = self.raw.recv_into(view)
        if n:
            with self._lock:
                self._in.write(view[:n])
        return n > 0

    def recv(self, size: int) -> bytes:
        """Up to `size` bytes of application data; b"" at the end (the CONNECT or SOCKS5
        handshake with an https:// proxy reads its answers here)."""
        buf = bytearray(size)
        n = self.recv_into(memoryview(buf))
        return bytes(buf[:n])

    # --- plain socket calls, passed through ----------------------------------------------
    def setblocking(self, flag: bool) -> None:
        """Blocking or not, as the raw socket's."""
        self.raw.setblocking(flag)

    def settimeout(self, timeout: float | None) -> None:
        """Timeout of each blocking read and write."""
        self.raw.settimeout(timeout)

    def gettimeout(self) -> float | None:
        """The current timeout."""
        return self.raw.gettimeout()

    def fileno(self) -> int:
        """The raw socket's descriptor."""
        return self.raw.fileno()

    def shutdown(self, how: int) -> None:
        """Shut the raw socket down (wakes a thread blocked on it)."""
        self.raw.shutdown(how)

    def close(self) -> None:
        """Close the raw socket (no close_notify: the connection is given up)."""
        self.raw.close()


def start_tls(
    sock: socket.socket | TLSSocket, ctx: ssl.SSLContext, host: str, timeout: float | None
) -> TLSSocket:
    """TLS to `host` over `sock` (a TCP socket, or a proxy's TLSSocket: TLS in TLS), the
    handshake done within `timeout` per read and write."""
    sock.settimeout(timeout)
    tls = TLSSocket(sock, ctx, host)
    tls.handshake()
    return tls
