"""Connecting through a proxy on blocking sockets: TCP to the proxy, [TLS to the proxy],
[the CONNECT or SOCKS5 handshake], [TLS to the origin, inside]. TLS inside TLS is a TLSSocket
(SSLObject + MemoryBIO) over the proxy's TLSSocket. The handshakes are sans-IO
(`_proxy_handshake`), the same ones the asyncio driver runs."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable

from ._deadline import time_left
from ._dns import Resolver, connect_socket_sync
from ._proxy import Proxy
from ._proxy_handshake import needs_local_dns, plan
from ._sync_tls import TLSSocket, start_tls

_READ = 65536


def open_via_proxy_sync(
    resolver: Resolver,
    proxy: Proxy,
    origin: tuple[str, str, int],
    origin_tls: ssl.SSLContext | None,
    proxy_tls: ssl.SSLContext,
    until: float | None,
    force_h2: bool,
    tune: Callable[[socket.socket], None],
) -> socket.socket | TLSSocket:
    """A connected socket to `origin` through `proxy` by `until` (TLS done on https)."""
    scheme, host, port = origin
    address = None
    if needs_local_dns(proxy, host):
        address = resolver.resolve_sync(host, port)[0][4][0]
    handshake = plan(proxy, scheme, host, port, force_h2, address)
    infos = resolver.resolve_sync(proxy.host, proxy.port)
    try:
        raw = connect_socket_sync(infos, until)
    except OSError as exc:
        if isinstance(exc, TimeoutError):
            raise
        raise ConnectionError(f"proxy {proxy.host}:{proxy.port}: {exc}") from exc
    sock: socket.socket | TLSSocket = raw
    try:
        tune(raw)
        raw.settimeout(time_left(until))
        if proxy.kind == "https":
            sock = start_tls(raw, proxy_tls, proxy.host, time_left(until))
        if handshake is not None:
            out = handshake.start()
            while True:
                if out:
                    sock.sendall(out)
                if handshake.done:
                    break
                sock.settimeout(time_left(until))
                data = sock.recv(_READ)
                if not data:
                    raise handshake.closed()
                out = handshake.feed(data)
        if origin_tls is not None:
            sock = start_tls(sock, origin_tls, host, time_left(until))
        return sock
    except BaseException:
        raw.close()
        raise
