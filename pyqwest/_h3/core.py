"""QuicCore: one client QUIC connection carrying HTTP/3, sans-IO.

It takes datagrams and the time, and returns datagrams to send and HTTP events; it never
touches a socket, a clock or an event loop, so the asyncio driver (connection.py) and a
blocking UDP driver can share it. The QUIC and HTTP/3 protocol state is qh3's; this module
only turns qh3's events into the few the drivers act on (`Head`, `Data`, `Trailers`, `Reset`,
`StopSending`, `GoAway`, `Ready`, `Closed`) and knows which HEADERS frame is a head and which
is trailers.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from qh3.h3 import events as h3_events
from qh3.h3.connection import H3_ALPN, H3Connection
from qh3.quic import events as quic_events
from qh3.quic.configuration import QuicConfiguration
from qh3.quic.connection import QuicConnection, QuicConnectionError

from cpqwest._errors import RemoteProtocolError

Address = tuple[str, int] | tuple[str, int, int, int]
# qh3's reason phrase for a connection its idle timeout ended
_IDLE_TIMEOUT = "Idle timeout"
RawPairs = list[tuple[bytes, bytes]]


@dataclass(slots=True)
class Ready:
    """The handshake completed (ALPN h3)."""


@dataclass(slots=True)
class Head:
    """A response head (1xx heads are skipped)."""

    stream_id: int
    headers: RawPairs
    ended: bool


@dataclass(slots=True)
class Data:
    """Body bytes of a response."""

    stream_id: int
    data: bytes
    ended: bool


@dataclass(slots=True)
class Trailers:
    """The trailer section of a response; it ends the stream."""

    stream_id: int
    headers: RawPairs


@dataclass(slots=True)
class Reset:
    """The peer reset a request stream (RESET_STREAM or STOP_SENDING) with an HTTP/3 code."""

    stream_id: int
    code: int


@dataclass(slots=True)
class StopSending:
    """The peer wants no more of a request body (its response may still come)."""

    stream_id: int
    code: int


@dataclass(slots=True)
class GoAway:
    """HTTP/3 GOAWAY: requests on streams with this id or above were not processed."""

    stream_id: int


@dataclass(slots=True)
class Closed:
    """The QUIC connection is over (CONNECTION_CLOSE either way, or its idle timeout)."""

    code: int
    reason: str
    silent: bool  # the QUIC idle timeout: the peer stopped answering


Event = Ready | Head | Data | Trailers | Reset | StopSending | GoAway | Closed


def closed_cause(ev: Closed, handshaking: bool) -> tuple[BaseException, bool]:
    """What a closed QUIC connection means for the requests on it: the error they fail with,
    and whether those with no answer yet may go again once (a server that closes may not have
    processed them: a stale connection, as HTTP/2's GOAWAY)."""
    if ev.silent:
        return TimeoutError("the server stopped answering (QUIC idle timeout)"), False
    if handshaking:
        return ConnectionError(f"QUIC handshake failed: {ev.reason or ev.code}"), False
    return RemoteProtocolError(
        f"connection closed by the server: {ev.reason or hex(ev.code)}"
    ), True


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
            alpn_protocols=list(H3_ALPN),
            server_name=server_name,
            idle_timeout=idle_timeout,
            cadata=tls.cadata,
            capath=tls.capath,
        )
        if tls.cert is not None and tls.key is not None:
            config.load_cert_chain(tls.cert, tls.key)
        self._quic = QuicConnection(configuration=config)
        self._h3 = H3Connection(self._quic)
        self._heads: set[int] = set()  # request streams whose response head arrived
        self.closed = False

    # --- datagrams and time -----------------------------------------------------------------
    def connect(self, addr: Address, now: float) -> None:
        self._quic.connect(addr, now)

    def receive(self, datagrams: list[bytes], addr: Address, now: float) -> list[Event]:
        """Take the datagrams one read brought; the events they make, in order."""
        receive = self._quic.receive_datagram
        for data in datagrams:
            receive(data, addr, now)
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
        self._heads.discard(stream_id)
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
            if isinstance(ev, quic_events.ConnectionTerminated):
                self.closed = True
                out.append(Closed(ev.error_code, ev.reason_phrase,
                                  ev.reason_phrase == _IDLE_TIMEOUT))
            elif isinstance(ev, quic_events.HandshakeCompleted):
                out.append(Ready())
            else:
                for h in h3.handle_event(ev):
                    self._translate(h, out)
            ev = quic.next_event()
        return out

    def _translate(self, ev: h3_events.H3Event, out: list[Event]) -> None:
        if isinstance(ev, h3_events.DataReceived):
            out.append(Data(ev.stream_id, ev.data, ev.stream_ended))
            if ev.stream_ended:
                self._heads.discard(ev.stream_id)
        elif isinstance(ev, h3_events.HeadersReceived):
            sid = ev.stream_id
            if sid in self._heads:
                self._heads.discard(sid)
                out.append(Trailers(sid, ev.headers))
            else:
                if not ev.stream_ended:
                    self._heads.add(sid)
                out.append(Head(sid, ev.headers, ev.stream_ended))
        elif isinstance(ev, h3_events.StreamReset):
            self._heads.discard(ev.stream_id)
            out.append(Reset(ev.stream_id, ev.error_code))
        elif isinstance(ev, h3_events.StopSending):
            out.append(StopSending(ev.stream_id, ev.error_code))
        elif isinstance(ev, h3_events.GoawayReceived):
            out.append(GoAway(ev.stream_id))
