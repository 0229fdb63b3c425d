"""Name resolution and connecting to the resolved addresses (spec §0 "DNS").

`use_system_dns=False`: `loop.getaddrinfo` (sync: `socket.getaddrinfo`) with a small
per-transport cache (10 s); `use_system_dns=True`: `getaddrinfo` on every connect. Either way
the addresses are tried the happy-eyeballs way (RFC 8305): families interleaved, the next
attempt started after a short delay or as soon as one fails, the first connected socket wins
(sync: one after the other).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import time
from asyncio import staggered
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

AddrInfo = tuple[Any, ...]  # getaddrinfo's 5-tuples

CACHE_TTL = 10.0
HAPPY_EYEBALLS_DELAY = 0.25


class Resolver:
    """Resolves (host, port) to stream-socket addresses; caches for `ttl` seconds if set."""

    def __init__(self, ttl: float | None) -> None:
        self._ttl = ttl
        self._cache: dict[tuple[str, int], tuple[float, list[AddrInfo]]] = {}

    async def resolve(
        self, loop: asyncio.AbstractEventLoop, host: str, port: int
    ) -> list[AddrInfo]:
        hit = self._lookup(host, port, loop.time())
        if hit is not None:
            return hit
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except UnicodeError as exc:
            raise _unresolvable(host, exc) from exc
        return self._store(host, port, loop.time(), infos)

    def resolve_sync(self, host: str, port: int) -> list[AddrInfo]:
        """The same, blocking: `socket.getaddrinfo` (it releases the GIL)."""
        hit = self._lookup(host, port, time.monotonic())
        if hit is not None:
            return hit
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except UnicodeError as exc:
            raise _unresolvable(host, exc) from exc
        return self._store(host, port, time.monotonic(), infos)

    def _lookup(self, host: str, port: int, now: float) -> list[AddrInfo] | None:
        literal = _ip_literal(host, port)
        if literal is not None:
            return literal
        if self._ttl is not None:
            hit = self._cache.get((host, port))
            if hit is not None and hit[0] > now:
                return hit[1]
        return None

    def _store(self, host: str, port: int, now: float, infos: list[AddrInfo]) -> list[AddrInfo]:
        if not infos:
            raise OSError(f"no addresses found for {host}")
        if self._ttl is not None:
            if len(self._cache) > 1024:
                self._cache.clear()
            self._cache[(host, port)] = (now + self._ttl, infos)
        return infos


def _unresolvable(host: str, exc: UnicodeError) -> OSError:
    # a name no DNS query can carry (e.g. a label over 63 bytes): a resolution failure
    return OSError(f"cannot resolve {host!r}: {exc}")


def _ip_literal(host: str, port: int) -> list[AddrInfo] | None:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if ip.version == 6:
        return [(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port, 0, 0))]
    return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port))]


def _interleave(infos: list[AddrInfo]) -> list[AddrInfo]:
    """First family first, then alternate between families (RFC 8305 §4)."""
    by_family: dict[int, list[AddrInfo]] = {}
    for info in infos:
        by_family.setdefault(info[0], []).append(info)
    queues = list(by_family.values())
    out: list[AddrInfo] = []
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out


async def connect_socket(
    loop: asyncio.AbstractEventLoop, infos: list[AddrInfo], delay: float = HAPPY_EYEBALLS_DELAY
) -> socket.socket:
    """A connected non-blocking socket to the first address that answers."""
    infos = _interleave(infos)
    if len(infos) == 1:
        return await _attempt(loop, infos[0])
    attempts: list[Callable[[], Awaitable[socket.socket]]] = [
        functools.partial(_attempt, loop, info) for info in infos
    ]
    sock, _index, errors = await staggered.staggered_race(attempts, delay)
    if sock is None:
        raise _all_failed(errors)
    return sock  # type: ignore[no-any-return]


def connect_socket_sync(infos: list[AddrInfo], deadline: float | None) -> socket.socket:
    """A connected blocking socket to the first address that answers, tried in turn (the
    happy-eyeballs order) until `deadline` (time.monotonic()); TimeoutError past it."""
    errors: list[BaseException | None] = []
    for family, type_, proto, _canon, address in _interleave(infos):
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise TimeoutError("timed out")
        sock = socket.socket(family, type_, proto)
        try:
            sock.settimeout(left)
            sock.connect(address)
        except TimeoutError:
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            errors.append(exc)
            continue
        return sock
    raise _all_failed(errors)


def _all_failed(errors: Sequence[BaseException | None]) -> OSError:
    """One error for every address refusing: the error itself when they all said the same."""
    messages = {str(e) for e in errors if e is not None}
    first = next((e for e in errors if e is not None), None)
    if len(messages) == 1 and isinstance(first, OSError):
        return first
    return OSError(f"all connection attempts failed: {'; '.join(sorted(messages))}")


async def _attempt(loop: asyncio.AbstractEventLoop, info: AddrInfo) -> socket.socket:
    family, type_, proto, _canon, address = info
    sock = socket.socket(family, type_, proto)
    try:
        sock.setblocking(False)
        await loop.sock_connect(sock, address)
    except BaseException:
        sock.close()
        raise
    return sock
