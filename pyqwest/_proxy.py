"""Proxies (spec §3.5): the public `Proxy`, the transport's `proxy=` option, proxies from the
environment, and the choice of proxy for a request. Pure: no I/O.

Where the spec is silent this follows reqwest: the first proxy whose `scheme` filter and
`no_proxy` admit the request wins (a `no_proxy` match moves on to the next proxy); proxies
given to a transport switch the environment's off; the environment is read once, when the
transport is made.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping, Sequence
from typing import Final, final
from urllib.parse import unquote

import ada_url

from ._headers import Headers
from ._no_proxy import NoProxy

_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080}
_TYPE_ERROR: Final = "proxy must be a str, Proxy, or sequence of str | Proxy"
_MASK: Final = "********"


@final
class Proxy:
    """A proxy for a transport's requests: `http://`, `https://` (TLS to the proxy),
    `socks5://` (names resolved here) or `socks5h://` (the proxy resolves them).

    Credentials come from the URL or `auth` (`auth` wins) and go to the proxy only
    (`Proxy-Authorization: Basic …`, or SOCKS5 username/password). `headers` are sent to the
    proxy (on each forwarded request and on CONNECT). `no_proxy` is a comma list of hosts,
    domains (covering their subdomains), IPs and CIDR ranges, or `*`, that bypass this proxy;
    `scheme` limits the proxy to requests of that URL scheme.
    """

    __slots__ = ("_auth", "_basic", "_headers", "_host", "_kind", "_no_proxy", "_port",
                 "_repr_url", "_scheme")

    def __init__(
        self,
        url: str,
        *,
        auth: tuple[str, str] | None = None,
        headers: Headers | Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        no_proxy: str | None = None,
        scheme: str | None = None,
    ) -> None:
        if scheme is not None and scheme not in ("http", "https"):
            raise ValueError(f"Invalid proxy scheme '{scheme}', must be 'http' or 'https'")
        if not isinstance(url, str):
            raise TypeError("proxy URL must be a str")
        if auth is not None and not (
            isinstance(auth, tuple) and len(auth) == 2
            and isinstance(auth[0], str) and isinstance(auth[1], str)
        ):
            raise TypeError("auth must be a (username, password) tuple of str")
        if no_proxy is not None and not isinstance(no_proxy, str):
            raise TypeError("no_proxy must be a str")
        kind, host, port, url_auth, href = _parse_proxy_url(url)
        self._kind = kind
        self._host = host
        self._port = port
        self._auth = auth if auth is not None else url_auth
        self._basic: str | None = None
        if self._auth is not None:
            token = base64.b64encode(f"{self._auth[0]}:{self._auth[1]}".encode()).decode()
            self._basic = f"Basic {token}"
        self._headers = Headers(headers)._wire_pairs() if headers is not None else []
        self._no_proxy = NoProxy(no_proxy)
        self._scheme = scheme
        self._repr_url = href

    def __repr__(self) -> str:
        tail = f', scheme="{self._scheme}"' if self._scheme is not None else ""
        return f'Proxy(url="{self._repr_url}"{tail})'

    # --- for the transports (private) ------------------------------------------------------
    @property
    def kind(self) -> str:
        """The proxy's own scheme: http, https, socks5 or socks5h."""
        return self._kind

    @property
    def host(self) -> str:
        """The proxy's host (an IPv6 address without brackets)."""
        return self._host

    @property
    def port(self) -> int:
        """The proxy's port."""
        return self._port

    @property
    def auth(self) -> tuple[str, str] | None:
        """The credentials for the proxy, if any."""
        return self._auth

    def head_pairs(self) -> list[tuple[str, str]]:
        """The header fields for the proxy: Proxy-Authorization (if credentials) and `headers`."""
        pairs = [("proxy-authorization", self._basic)] if self._basic is not None else []
        return pairs + self._headers

    def admits(self, scheme: str, host: str) -> bool:
        """Whether a request to scheme://host goes through this proxy."""
        if self._scheme is not None and self._scheme != scheme:
            return False
        return not self._no_proxy.matches(host)


def _parse_proxy_url(url: str) -> tuple[str, str, int, tuple[str, str] | None, str]:
    """(scheme, host, port, credentials, href with the password masked) of a proxy URL; a URL
    without a scheme means http:// (as reqwest and curl read it)."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        parts = ada_url.parse_url(text)
    except ValueError:
        raise ValueError(f"Failed to parse proxy URL: {_masked(url)}") from None
    kind = parts["protocol"][:-1]
    if kind not in _DEFAULT_PORTS:
        raise ValueError(
            f"Failed to parse proxy URL: {_masked(url)}: unsupported scheme '{kind}' "
            "(http, https, socks5 or socks5h)"
        )
    hostname = parts["hostname"]
    if not hostname:
        raise ValueError(f"Failed to parse proxy URL: {_masked(url)}: empty host")
    host = hostname[1:-1] if hostname.startswith("[") else hostname
    port = int(parts["port"]) if parts["port"] else _DEFAULT_PORTS[kind]
    creds = None
    if parts["username"] or parts["password"]:
        creds = (unquote(parts["username"]), unquote(parts["password"]))
    href = parts["href"]
    if parts["password"]:
        masked = ada_url.URL(href)
        masked.password = _MASK
        href = masked.href
    return kind, host, port, creds, href


def _masked(url: str) -> str:
    """`url` with anything between :// and the last @ before the host replaced."""
    start = url.find("://")
    start = 0 if start < 0 else start + 3
    end = url.find("/", start)
    at = url.rfind("@", start, end if end >= 0 else len(url))
    return url if at < 0 else url[:start] + _MASK + url[at:]


def proxies_option(proxy: object) -> tuple[Proxy, ...]:
    """The transport's `proxy=` as a tuple (empty: none given); TypeError for other types."""
    if proxy is None:
        return ()
    if isinstance(proxy, Proxy):
        return (proxy,)
    if isinstance(proxy, str):
        return (Proxy(proxy),)
    if isinstance(proxy, (bytes, bytearray, memoryview)) or not isinstance(proxy, Sequence):
        raise TypeError(_TYPE_ERROR)
    out: list[Proxy] = []
    for item in proxy:
        if isinstance(item, Proxy):
            out.append(item)
        elif isinstance(item, str):
            out.append(Proxy(item))
        else:
            raise TypeError(_TYPE_ERROR)
    return tuple(out)


def _first_env(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name)
        if value is not None:
            return value
    return None


def env_proxies(env: Mapping[str, str] | None = None) -> tuple[Proxy, ...]:
    """Proxies from the environment, as reqwest reads it: `HTTP_PROXY` for http requests,
    `HTTPS_PROXY` for https ones, `ALL_PROXY` for either when the specific one is unset;
    each upper-case name before its lower-case form (the first one set wins, even empty);
    `HTTP_PROXY`/`http_proxy` ignored under CGI (`REQUEST_METHOD` set: a request header
    could set it); `NO_PROXY`/`no_proxy` applies to all of them. Empty or unparsable
    values mean no proxy."""
    env = os.environ if env is None else env
    no_proxy = _first_env(env, "NO_PROXY", "no_proxy")
    cgi = "REQUEST_METHOD" in env
    found: list[Proxy] = []
    for scheme, names in (("http", ("HTTP_PROXY", "http_proxy")),
                          ("https", ("HTTPS_PROXY", "https_proxy")),
                          (None, ("ALL_PROXY", "all_proxy"))):
        if scheme == "http" and cgi:
            continue
        value = _first_env(env, *names)
        if not value or not value.strip():
            continue
        try:
            found.append(Proxy(value, no_proxy=no_proxy, scheme=scheme))
        except ValueError:
            continue
    return tuple(found)


def select_proxy(proxies: tuple[Proxy, ...], scheme: str, host: str) -> Proxy | None:
    """The first proxy that admits a request to scheme://host, None to go direct."""
    for proxy in proxies:
        if proxy.admits(scheme, host):
            return proxy
    return None


def forwards(proxy: Proxy, scheme: str, force_h2: bool) -> bool:
    """Whether a request goes to `proxy` as a forwarded absolute-form HTTP/1.1 request
    (http:// through an HTTP proxy), not through a tunnel (CONNECT or SOCKS5)."""
    return scheme == "http" and proxy.kind in ("http", "https") and not force_h2


__all__ = ["Proxy", "env_proxies", "forwards", "proxies_option", "select_proxy"]
