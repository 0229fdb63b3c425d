"""Timings: where one response's time went (DNS, connect, TLS, request, first byte, body).

The connections stamp raw clock readings on their exchange's `cpqwest._stamps.Stamps` where
things happen; this module turns them into the public, typed `Timings` only when a user reads
``response.timings``, so an unobserved request pays a few clock reads and nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from time import monotonic
from typing import Any

# (dns, connect, tls) seconds of a new connection's setup
Setup = tuple[float | None, float | None, float | None]


@dataclass(frozen=True, slots=True)
class Timings:
    """Where the time of one exchange went, in seconds (``None``: the phase did not happen,
    or has not happened yet).

    ``dns``, ``connect`` and ``tls`` are the durations of the new connection's setup; a
    request on a reused connection (``reused``) has none. ``request_sent``, ``first_byte``
    and ``body_complete`` count from the start of the exchange (the transport took the
    request: setup included), like curl's ``time_pretransfer``/``time_starttransfer``/
    ``time_total``. All come from the monotonic clock (asyncio's ``loop.time()``), read at the
    point the event happened. After redirects they describe the last exchange.
    """

    #: resolving the host name (``None``: reused connection, or through a proxy)
    dns: float | None = None
    #: the TCP connect (through a proxy: reaching the origin through it, TLS included;
    #: HTTP/3: ``None``, the QUIC handshake is ``tls``)
    connect: float | None = None
    #: the TLS (or QUIC) handshake (``None``: plain TCP or reused connection)
    tls: float | None = None
    #: the whole request (head and body) was handed to the socket
    request_sent: float | None = None
    #: the first byte of the response arrived (HTTP/2 and HTTP/3: its HEADERS)
    first_byte: float | None = None
    #: the last byte of the response body arrived (``None`` while it streams in)
    body_complete: float | None = None
    #: the connection had served a request before (no DNS, connect or TLS phase)
    reused: bool = False

    @property
    def setup(self) -> float | None:
        """``dns + connect + tls`` of a new connection (``None`` when reused)."""
        parts = [p for p in (self.dns, self.connect, self.tls) if p is not None]
        return sum(parts) if parts else None

    @property
    def server(self) -> float | None:
        """From the request sent to the first response byte: the server's think time and one
        round trip."""
        if self.first_byte is None or self.request_sent is None:
            return None
        return max(0.0, self.first_byte - self.request_sent)


NO_TIMINGS = Timings()


def timings_of(stamps: Any) -> Timings:
    """The Timings of an exchange's Stamps (`NO_TIMINGS` for a response built by hand or by a
    testing transport)."""
    if stamps is None:
        return NO_TIMINGS
    start = stamps.start
    setup = stamps.setup
    dns, connect, tls = (None, None, None) if setup is None else setup
    return Timings(
        dns=dns,
        connect=connect,
        tls=tls,
        request_sent=_since(start, stamps.sent),
        first_byte=_since(start, stamps.first),
        body_complete=_since(start, stamps.done),
        reused=setup is None,
    )


def _since(start: float, at: float) -> float | None:
    return None if at == 0.0 else max(0.0, at - start)


class SetupClock:
    """Stamps a new connection's setup as it goes: ``resolved()``, ``connected()``, then
    ``setup()`` (after the TLS handshake, if any)."""

    __slots__ = ("_at", "_connected", "_resolved")

    def __init__(self) -> None:
        self._at = monotonic()
        self._resolved: float | None = None
        self._connected: float | None = None

    def resolved(self) -> None:
        self._resolved = monotonic()

    def connected(self) -> None:
        self._connected = monotonic()

    def setup(self, tls: bool) -> Setup:
        """(dns, connect, tls) now that the connection is ready (TLS done when `tls`)."""
        end = monotonic()
        resolved, connected = self._resolved, self._connected
        if connected is None:
            # one step we cannot split (a proxy, a QUIC handshake): all of it is `connect`,
            # or `tls` for QUIC
            start = self._at if resolved is None else resolved
            dns = None if resolved is None else resolved - self._at
            return (dns, None, end - start) if tls else (dns, end - start, None)
        dns = None if resolved is None else resolved - self._at
        connect = connected - (self._at if resolved is None else resolved)
        return dns, connect, (end - connected) if tls else None


__all__ = ["NO_TIMINGS", "SetupClock", "Timings", "timings_of"]
