"""The `no_proxy` rule: which hosts bypass a proxy (pure; as reqwest matches it).

A comma list of entries: `*` (every host), IP addresses and CIDR ranges (matched against
IP-literal hosts only), and domains. A domain covers itself and its subdomains
(`example.com` matches `example.com` and `a.example.com`, not `badexample.com`); a leading
`.` or `*.` means the same. Case-insensitive; a `:port` on an entry is ignored, as reqwest does.
"""

from __future__ import annotations

import ipaddress

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class NoProxy:
    """A parsed `no_proxy` list; `matches(host)` tells whether `host` goes direct."""

    __slots__ = ("_all", "_domains", "_networks")

    def __init__(self, spec: str | None) -> None:
        self._all = False
        self._domains: list[str] = []
        self._networks: list[IPNetwork] = []
        for raw in (spec or "").split(","):
            entry = raw.strip().lower()
            if not entry:
                continue
            if entry == "*":
                self._all = True
                continue
            network = _network(entry)
            if network is not None:
                self._networks.append(network)
                continue
            if entry.startswith("*."):
                entry = entry[1:]
            host, sep, port = entry.rpartition(":")
            if sep and port.isdigit() and host:
                entry = host
            self._domains.append(entry.lstrip(".").rstrip("."))

    def __bool__(self) -> bool:
        return self._all or bool(self._domains) or bool(self._networks)

    def matches(self, host: str) -> bool:
        """Whether a request to `host` (a name, or an IP without brackets) bypasses the proxy."""
        if self._all:
            return True
        host = host.lower().rstrip(".")
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if ip is not None:
            return any(ip in net for net in self._networks)
        return any(host == d or host.endswith("." + d) for d in self._domains)


def _network(entry: str) -> IPNetwork | None:
    """The IP address or CIDR range `entry` names ([v6] brackets allowed), else None."""
    text = entry
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        text = text[1:end] + text[end + 1:] if "/" in text[end:] else text[1:end]
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        pass
    # an IPv4 address with a port
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit() and "." in host:
        try:
            return ipaddress.ip_network(host, strict=False)
        except ValueError:
            return None
    return None
