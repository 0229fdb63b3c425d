"""Connecting through a proxy on asyncio: TCP to the proxy, [TLS to the proxy], [the CONNECT or
SOCKS5 handshake], [TLS to the origin, inside], then the HTTP protocol takes the transport.

TLS inside TLS (an https:// proxy tunnelling to an https origin) is `loop.start_tls` over the
proxy's TLS transport. The handshakes themselves are sans-IO (`_proxy_handshake`).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Any

from ._dns import Resolver, connect_socket
from ._proxy import Proxy
from ._proxy_handshake import needs_local_dns, plan


class _HandshakeProtocol(asyncio.Protocol):
    """Collects what the proxy sends while the handshake runs."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._chunks: list[bytes] = []
        self._ended = False
        self._waiter: asyncio.Future[None] | None = None

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._wake()

    def eof_received(self) -> bool:
        self._ended = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._ended = True
        self._wake()

    async def recv(self) -> bytes:
        """The next bytes from the proxy; b"" once it closed."""
        while not self._chunks and not self._ended:
            self._waiter = self._loop.create_future()
            await self._waiter
        if self._chunks:
            data = b"".join(self._chunks)
            self._chunks.clear()
            return data
        return b""


async def open_via_proxy(
    loop: asyncio.AbstractEventLoop,
    resolver: Resolver,
    proxy: Proxy,
    origin: tuple[str, str, int],
    origin_tls: ssl.SSLContext | None,
    proxy_tls: ssl.SSLContext,
    factory: Callable[[], Any],
    force_h2: bool,
) -> tuple[asyncio.BaseTransport, Any]:
    """A transport to `origin` through `proxy` with the protocol `factory` made on it."""
    scheme, host, port = origin
    address = None
    if needs_local_dns(proxy, host):
        address = (await resolver.resolve(loop, host, port))[0][4][0]
    handshake = plan(proxy, scheme, host, port, force_h2, address)
    infos = await resolver.resolve(loop, proxy.host, proxy.port)
    try:
        sock = await connect_socket(loop, infos)
    except OSError as exc:
        if isinstance(exc, TimeoutError):
            raise
        raise ConnectionError(f"proxy {proxy.host}:{proxy.port}: {exc}") from exc
    tls_to_proxy = proxy.kind == "https"
    try:
        transport, hp = await loop.create_connection(
            lambda: _HandshakeProtocol(loop), sock=sock,
            ssl=proxy_tls if tls_to_proxy else None,
            server_hostname=proxy.host if tls_to_proxy else None,
        )
    except BaseException:
        sock.close()
        raise
    try:
        if handshake is not None:
            out = handshake.start()
            while True:
                if out:
                    transport.write(out)
                if handshake.done:
                    break
                data = await hp.recv()
                if not data:
                    raise handshake.closed()
                out = handshake.feed(data)
        if origin_tls is not None:
            tls = await loop.start_tls(transport, hp, origin_tls, server_hostname=host)
            if tls is None:
                raise ConnectionError(f"TLS to {host} through the proxy did not start")
            transport = tls
        proto = factory()
        transport.set_protocol(proto)
        proto.connection_made(transport)
    except BaseException:
        transport.abort()
        raise
    return transport, proto
