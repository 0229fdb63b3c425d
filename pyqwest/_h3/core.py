"""QuicCore: one client QUIC connection carrying HTTP/3, sans-IO.

It takes datagrams and the time, and returns datagrams to send and HTTP events; it never
touches a socket, a clock or an event loop, so the asyncio driver (connection.py) and a
blocking UDP driver can share it. QUIC is qh3's (its compiled core); HTTP/3 on top is our
`H3Session`, which turns QUIC's stream events into the few the drivers act on (events.py).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from qh3.quic.configuration import QuicConfiguration
from qh3.quic.connection import QuicConnection, QuicConnectionError
from qh3.quic.events import (
    ConnectionTerminated,
    HandshakeCompleted,
    StopSendingReceived,
    StreamDataReceived,
    StreamReset,
)
from qh3.quic.packet import QuicErrorCode

from .events import Closed, Event, Ready
from .session import H3Session

Address = tuple[str, int] | tuple[str, int, int, int]
# qh3's reason phrase for a connection its idle timeout ended
_IDLE_TIMEOUT = "Idle timeout"


class _Quic(QuicConnection):
    """qh3's QuicConnection, with the two calls every request makes on an established
    connection going straight to qh3's compiled core: qh3's own versions re-check the
    handshake, re-validate the address and parse every packet's header for a qlog trace we
    never take (4 % of a sequential request's instructions). Everything else (the handshake,
    closing, and these two calls before the handshake ends or with a trace) is qh3's code."""

    def receive_many_datagrams(self, datagrams: list[bytes], addr: Address, now: float) -> None:
        core = self._core
        if core is None or not self._handshake_complete or self._quic_logger is not None:
            super().receive_many_datagrams(datagrams, addr, now)
            return
        try:
            core.receive_many_datagrams(datagrams, addr, now)
        except RuntimeError as exc:  # (as qh3's `_call_core` maps it)
            raise QuicConnectionError(QuicErrorCode.INTERNAL_ERROR, None, str(exc)) from exc
        self._drain_core()

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address]]:
        core = self._core
        if core is None or self._quic_logger is not None:
            return super().datagrams_to_send(now)
        out: list[tuple[bytes, Address]] = []
        poll = core.poll_transmit
        try:
            transmit = poll(now)
            while transmit is not None:
                out.append((transmit[0], transmit[1]))
                transmit = poll(now)
        except RuntimeError as exc:
            raise QuicConnectionError(QuicErrorCode.INTERNAL_ERROR, None, str(exc)) from exc
        return out


class Closing(Exception):
    """The connection takes no new request: the peer closed it (CONNECTION_CLOSE received,
    QUIC's draining period not over)."""


@dataclass(frozen=True, slots=True)
class TLSSettings:
    """What the QUIC handshake trusts and presents (built from the transport's TLS options)."""

    cadata: bytes  # PEM roots
    capath: str | None = None  # a directory of hashed PEM roots too (the OS's)
    cert: bytes | None = None  # PEM client certificate (mTLS) ...
    key: bytes | None = None  # ... and its key


class QuicCore:
    """A client QUIC connection speaking HTTP/3 to one origin, without I/O."""

    def __init__(self, server_name: str, tls: TLSSettings, idle_timeout: float) -> None:
        config = QuicConfiguration(
            is_client=True,
            alpn_protocols=["h3"],
            server_name=server_name,
            idle_timeout=idle_timeout,
            cadata=tls.cadata,
            capath=tls.capath,
        )
        if tls.cert is not None and tls.key is not None:
            config.load_cert_chain(tls.cert, tls.key)
        self._quic = _Quic(configuration=config)
        self._h3 = H3Session(self._quic)
        self.closed = False

    # --- datagrams and time -----------------------------------------------------------------
    def connect(self, addr: Address, now: float) -> None:
        self._quic.connect(addr, now)

    def receive(self, datagrams: list[bytes], addr: Address, now: float) -> list[Event]:
        """Take the datagrams one read brought; the events they make, in order."""
        # one call into qh3 for the batch (it splits them itself while the handshake runs)
        self._quic.receive_many_datagrams(datagrams, addr, now)
        return self._events()

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address]]:
        return self._quic.datagrams_to_send(now)

    def timer(self) -> float | None:
        """When `handle_timer` wants to run next (the drivers' clock)."""
        return self._quic.get_timer()

    def handle_timer(self, now: float) -> list[Event]:
        self._quic.handle_timer(now)
        return self._events()

    # --- requests ---------------------------------------------------------------------------
    def free_streams(self) -> int:
        """How many more request streams the peer's stream credit allows now (none once the
        connection is closed)."""
        if self.closed:
            return 0
        quic = self._quic
        return quic.max_concurrent_bidi_streams - quic.get_next_available_stream_id() // 4

    def ask_credit(self) -> None:
        """Make the peer answer (a PING): servers that batch MAX_STREAMS send it with their
        next packet, and without this one there may be none."""
        self._quic.send_ping(0)

    def send_head(self, headers: list[tuple[str, str]], end: bool) -> int:
        """Start a request (the caller checked `free_streams`); returns its stream id. Raises
        Closing when the peer closed the connection (its end is not reported yet)."""
        sid = self._quic.get_next_available_stream_id()
        try:
            self._h3.send_headers(sid, [(n.encode(), v.encode()) for n, v in headers], end)
        except QuicConnectionError as exc:
            self.closed = True
            raise Closing(str(exc)) from exc
        return sid

    def send_data(self, stream_id: int, data: bytes | bytearray | memoryview, end: bool) -> bool:
        """Queue body bytes; False when the connection takes no more (the peer closed it:
        the stream fails once qh3 reports the end)."""
        try:
            self._h3.send_data(stream_id, data, end)
        except QuicConnectionError:
            self.closed = True
            return False
        return True

    def buffered(self, stream_id: int) -> int:
        """Bytes of a stream queued in QUIC and not yet acknowledged."""
        return self._quic.get_send_buffer_size(stream_id)

    def reset(self, stream_id: int, code: int) -> None:
        """Abandon a request stream both ways with an HTTP/3 error code."""
        self._h3.forget(stream_id)
        quic = self._quic
        # either direction may be over already (our FIN sent, the response ended)
        with contextlib.suppress(Exception):
            quic.reset_stream(stream_id, code)
        with contextlib.suppress(Exception):
            quic.stop_stream(stream_id, code)

    def close(self, code: int, reason: str = "") -> None:
        """CONNECTION_CLOSE with an HTTP/3 code (send the datagrams after)."""
        self.closed = True
        self._quic.close(error_code=code, reason_phrase=reason)

    # --- events -----------------------------------------------------------------------------
    def _events(self) -> list[Event]:
        out: list[Event] = []
        quic = self._quic
        h3 = self._h3
        ev = quic.next_event()
        while ev is not None:
            if isinstance(ev, StreamDataReceived):
                h3.stream_data(ev.stream_id, ev.data, ev.end_stream, out)
            elif isinstance(ev, StreamReset):
                h3.stream_reset(ev.stream_id, ev.error_code, out)
            elif isinstance(ev, StopSendingReceived):
                h3.stop_sending(ev.stream_id, ev.error_code, out)
            elif isinstance(ev, HandshakeCompleted):
                out.append(Ready())
            elif isinstance(ev, ConnectionTerminated):
                self.closed = True
                if not h3.broken:  # (we reported our own close when we made it)
                    out.append(Closed(ev.error_code, ev.reason_phrase,
                                      ev.reason_phrase == _IDLE_TIMEOUT))
            ev = quic.next_event()
        if h3.broken:
            self.closed = True
        return out
