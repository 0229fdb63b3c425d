"""The UDP socket calls both HTTP/3 drivers make, and what their errors mean (one copy).

Both drivers own a connected, non-blocking UDP socket: the asyncio one reads it when the loop
says it is readable, the blocking one after select(). Each read takes every datagram waiting
(up to `BATCH`), so the core sees them together and one flush answers them all.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable

DATAGRAM = 1 << 16  # the largest UDP payload
BATCH = 64  # datagrams read per wake-up before the core sees them


def read_batch(sock: socket.socket, into: list[bytes]) -> OSError | None:
    """Append the datagrams waiting (until `into` holds BATCH) without blocking. Returns the
    error the socket reported (see `fatal`), None when it ran dry."""
    recv = sock.recv
    try:
        while len(into) < BATCH:
            into.append(recv(DATAGRAM))
    except BlockingIOError:
        return None
    except OSError as exc:
        return exc
    return None


def send_all(sock: socket.socket, datagrams: Iterable[tuple[bytes, object]]) -> OSError | None:
    """Send the core's datagrams. A full socket buffer drops the rest (QUIC's loss recovery
    sends them again); another error is returned (see `fatal`)."""
    send = sock.send
    try:
        for datagram, _addr in datagrams:
            send(datagram)
    except BlockingIOError:
        return None
    except OSError as exc:
        return exc
    return None


def fatal(exc: OSError, handshake_done: bool) -> bool:
    """Whether a socket error ends the connection. An ICMP unreachable (the pending error a
    later call reports as ConnectionRefusedError) does while connecting; after the handshake,
    QUIC's loss recovery and idle timeout decide."""
    return not (handshake_done and isinstance(exc, ConnectionRefusedError))
