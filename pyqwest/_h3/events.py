"""What an HTTP/3 connection reports to its drivers: the few events `QuicCore` turns QUIC and
HTTP/3 into, and what a closed connection means for the requests on it."""

from __future__ import annotations

from dataclasses import dataclass

from cpqwest._errors import RemoteProtocolError

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
    """The peer reset a request stream (RESET_STREAM) with an HTTP/3 code."""

    stream_id: int
    code: int


@dataclass(slots=True)
class Malformed:
    """A response broke HTTP/3's message rules (RFC 9114 §4.1.2): its request fails, the
    stream is reset, the connection goes on."""

    stream_id: int
    reason: str


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
    ours: bool = False  # we closed it: the server broke HTTP/3's connection rules


Event = Ready | Head | Data | Trailers | Reset | Malformed | StopSending | GoAway | Closed


def closed_cause(ev: Closed, handshaking: bool) -> tuple[BaseException, bool]:
    """What a closed QUIC connection means for the requests on it: the error they fail with,
    and whether those with no answer yet may go again once (a server that closes may not have
    processed them: a stale connection, as HTTP/2's GOAWAY)."""
    if ev.silent:
        return TimeoutError("the server stopped answering (QUIC idle timeout)"), False
    if ev.ours:
        return RemoteProtocolError(f"HTTP/3 protocol error by the server: {ev.reason}"), False
    if handshaking:
        return ConnectionError(f"QUIC handshake failed: {ev.reason or ev.code}"), False
    return RemoteProtocolError(
        f"connection closed by the server: {ev.reason or hex(ev.code)}"
    ), True
