"""Sans-IO tunnel handshakes with a proxy: HTTP CONNECT and SOCKS5 (RFC 1928, RFC 1929).

Both drivers (asyncio and blocking sockets) run them the same way: send `start()`, then
feed every read to `feed(data)` and send what it returns, until `done`. A refusal or a
malformed reply raises ConnectionError naming the proxy and what it said; bytes after the
reply (a body, or anything the origin could not have sent yet) raise ConnectionError too:
they would otherwise be taken for the origin's. Credentials never appear in an error.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Final

from cpqwest._reqhead import connect_head

from ._proxy import Proxy

_MAX_REPLY_HEAD: Final = 64 * 1024

_SOCKS_REPLIES: Final = {
    1: "general SOCKS server failure",
    2: "connection not allowed by ruleset",
    3: "network unreachable",
    4: "host unreachable",
    5: "connection refused",
    6: "TTL expired",
    7: "command not supported",
    8: "address type not supported",
}


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Handshake:
    """A tunnel handshake: `start()`, then `feed(read)` until `done`."""

    done: bool = False

    def start(self) -> bytes:
        """The first bytes to send."""
        raise NotImplementedError

    def feed(self, data: bytes) -> bytes:
        """Take bytes read from the proxy; the bytes to send next (maybe empty)."""
        raise NotImplementedError

    def closed(self) -> ConnectionError:
        """The error for a proxy that closed the connection before the handshake ended."""
        raise NotImplementedError


class ConnectHandshake(Handshake):
    """HTTP CONNECT host:port, with the proxy's credentials and headers; a 2xx reply opens the
    tunnel. 407 and other statuses are refusals."""

    def __init__(self, proxy: Proxy, host: str, port: int) -> None:
        self._proxy = proxy
        self._target = _authority(host, port)
        self._buf = bytearray()

    def _name(self) -> str:
        return f"proxy {_authority(self._proxy.host, self._proxy.port)}"

    def start(self) -> bytes:
        return connect_head(self._target, self._proxy.head_pairs())

    def feed(self, data: bytes) -> bytes:
        if self.done:
            raise ConnectionError(f"{self._name()} sent data after its CONNECT reply")
        self._buf += data
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > _MAX_REPLY_HEAD or not b"HTTP/1.".startswith(
                bytes(self._buf[:7])
            ):
                raise ConnectionError(f"{self._name()} sent an invalid reply to CONNECT")
            return b""
        head = bytes(self._buf[:end]).decode("latin-1")
        rest = self._buf[end + 4:]
        status_line, _, fields = head.partition("\r\n")
        parts = status_line.split(" ", 2)
        if (len(parts) < 2 or parts[0] not in ("HTTP/1.0", "HTTP/1.1")
                or len(parts[1]) != 3 or not parts[1].isdigit()):
            raise ConnectionError(f"{self._name()} sent an invalid reply to CONNECT")
        status = int(parts[1])
        reason = parts[2].strip() if len(parts) > 2 else ""
        if status == 407:
            said = f"407 {reason or 'Proxy Authentication Required'}"
            raise ConnectionError(
                f"{self._name()} requires authentication ({said})" if self._proxy.auth is None
                else f"{self._name()} rejected the credentials ({said})"
            )
        if not 200 <= status < 300:
            raise ConnectionError(
                f"{self._name()} refused the tunnel to {self._target}: {status} {reason}".rstrip()
            )
        for line in fields.split("\r\n"):
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if (name == "content-length" and value.strip() != "0") or name == "transfer-encoding":
                raise ConnectionError(f"{self._name()} sent a body with its CONNECT reply")
        if rest:
            raise ConnectionError(f"{self._name()} sent data after its CONNECT reply")
        self.done = True
        return b""

    def closed(self) -> ConnectionError:
        return ConnectionError(f"{self._name()} closed the connection during CONNECT")


class Socks5Handshake(Handshake):
    """SOCKS5 CONNECT: no-auth or username/password (RFC 1929). `socks5h`: the proxy resolves
    the name; `socks5`: `address` is the IP the caller resolved."""

    def __init__(self, proxy: Proxy, host: str, port: int, address: str | None) -> None:
        self._proxy = proxy
        self._host = host
        self._port = port
        self._address = address
        self._buf = bytearray()
        self._state = "method"

    def _name(self) -> str:
        return f"SOCKS5 proxy {_authority(self._proxy.host, self._proxy.port)}"

    def start(self) -> bytes:
        methods = b"\x00\x02" if self._proxy.auth is not None else b"\x00"
        return bytes([5, len(methods)]) + methods

    def _request(self) -> bytes:
        target = self._address if self._address is not None else self._host
        try:
            ip = ipaddress.ip_address(target)
        except ValueError:
            name = target.encode("idna")
            if not 0 < len(name) < 256:
                raise ConnectionError(f"{self._name()}: host name too long") from None
            addr = bytes([3, len(name)]) + name
        else:
            addr = (b"\x01" if ip.version == 4 else b"\x04") + ip.packed
        return b"\x05\x01\x00" + addr + self._port.to_bytes(2, "big")

    def _take(self, n: int) -> bytes | None:
        if len(self._buf) < n:
            return None
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def feed(self, data: bytes) -> bytes:
        if self.done:
            raise ConnectionError(f"{self._name()} sent data after its reply")
        self._buf += data
        out = b""
        while True:
            if self._state == "method":
                got = self._take(2)
                if got is None:
                    return out
                if got[0] != 5:
                    raise ConnectionError(f"{self._name()} sent an invalid reply (not SOCKS5)")
                if got[1] == 0:
                    out += self._request()
                    self._state = "reply"
                elif got[1] == 2 and self._proxy.auth is not None:
                    user, password = (s.encode() for s in self._proxy.auth)
                    if len(user) > 255 or len(password) > 255:
                        raise ConnectionError(f"{self._name()}: credentials too long")
                    out += (bytes([1, len(user)]) + user + bytes([len(password)]) + password)
                    self._state = "auth"
                elif got[1] == 0xFF:
                    raise ConnectionError(
                        f"{self._name()} accepted none of the offered authentication methods"
                        + ("" if self._proxy.auth is not None else " (it requires credentials)")
                    )
                else:
                    raise ConnectionError(
                        f"{self._name()} chose an authentication method not offered ({got[1]})"
                    )
            elif self._state == "auth":
                got = self._take(2)
                if got is None:
                    return out
                if got[1] != 0:
                    raise ConnectionError(f"{self._name()} rejected the credentials")
                out += self._request()
                self._state = "reply"
            else:
                if len(self._buf) < 5:
                    return out
                if self._buf[0] != 5:
                    raise ConnectionError(f"{self._name()} sent an invalid reply")
                code = self._buf[1]
                if code != 0:
                    text = _SOCKS_REPLIES.get(code, f"reply {code}")
                    raise ConnectionError(
                        f"{self._name()} refused the connection to "
                        f"{_authority(self._host, self._port)}: {text}"
                    )
                atyp = self._buf[3]
                size = {1: 4, 4: 16}.get(atyp)
                if size is None:
                    if atyp != 3:
                        raise ConnectionError(f"{self._name()} sent an invalid reply")
                    size = 1 + self._buf[4]
                total = 4 + size + 2
                if len(self._buf) < total:
                    return out
                del self._buf[:total]
                if self._buf:
                    raise ConnectionError(f"{self._name()} sent data after its reply")
                self.done = True
                return out

    def closed(self) -> ConnectionError:
        return ConnectionError(f"{self._name()} closed the connection during the handshake")


def tunnel_handshake(proxy: Proxy, host: str, port: int, address: str | None) -> Handshake:
    """The handshake that opens a tunnel to host:port through `proxy` (`address`: the IP
    resolved locally, for socks5://)."""
    if proxy.kind in ("socks5", "socks5h"):
        return Socks5Handshake(proxy, host, port, address)
    return ConnectHandshake(proxy, host, port)


def is_ip(host: str) -> bool:
    """Whether `host` is an IP literal (no resolution needed)."""
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True


def needs_local_dns(proxy: Proxy, host: str) -> bool:
    """Whether the driver resolves `host` itself before the handshake (socks5://, not
    socks5h://, and not an IP already)."""
    return proxy.kind == "socks5" and not is_ip(host)


def plan(
    proxy: Proxy, scheme: str, host: str, port: int, force_h2: bool, address: str | None
) -> Handshake | None:
    """The handshake a connection to scheme://host:port through `proxy` needs: None for a
    forwarded http:// request (the proxy takes absolute-form requests), else the tunnel's."""
    from ._proxy import forwards

    if forwards(proxy, scheme, force_h2):
        return None
    return tunnel_handshake(proxy, host, port, address)
