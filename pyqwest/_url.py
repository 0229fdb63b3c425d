"""URL parsing for requests: WHATWG semantics (ada-url), with a cache and a fast path.

ada-url costs ~20 µs per call through its bindings, more than a whole request should. Plain
ASCII http(s) URLs that WHATWG would leave unchanged take a regex path; everything else
(IDNA, IPv4 shorthand, dot segments, userinfo, odd characters) goes to ada.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import quote_plus, unquote

import ada_url

_DEFAULT_PORTS = {"http": 80, "https": 443}
_CACHE_MAX = 1024


class ParsedURL(NamedTuple):
    href: str  # the normalized serialization (a fragment stays here, never on the wire)
    scheme: str  # "http" or "https"
    host: str  # what to connect to (IPv6 without brackets)
    port: int
    authority: str  # the Host header: host[:port] as in the URL
    target: str  # origin-form request target: path[?query]
    userinfo: tuple[str, str] | None


# lowercase host labels (last one not numeric: WHATWG would parse it as IPv4), or a canonical
# dotted quad, optional port, then path and query made of characters WHATWG keeps as they are
_FAST = re.compile(
    r"(https?)://"
    r"((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z](?:[a-z0-9-]*[a-z0-9])?"
    r"|(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9]))"
    r"(?::([1-9][0-9]{0,4}))?"
    r"(/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2}|/(?!\.))*)?"
    r"(\?(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*)?"
    r"(#.*)?\Z",
    re.ASCII,
)

_cache: dict[str, ParsedURL] = {}


def parse_url(url: str) -> ParsedURL:
    """Parse an absolute http(s) URL; ValueError("Invalid URL: …") otherwise."""
    hit = _cache.get(url)
    if hit is not None:
        return hit
    parsed = _parse_fast(url) or _parse_ada(url)
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[url] = parsed
    return parsed


def _parse_fast(url: str) -> ParsedURL | None:
    m = _FAST.match(url)
    if m is None:
        return None
    scheme, host, port_s, path, query, frag = m.groups()
    # "." path segments need WHATWG's normalization
    if path and ("/." in path or path.endswith("/.")):
        return None
    port = int(port_s) if port_s else _DEFAULT_PORTS[scheme]
    if port > 65535:
        return None
    authority = host if port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    target = (path or "/") + (query or "")
    href = f"{scheme}://{authority}{target}{frag or ''}"
    return ParsedURL(href, scheme, host, port, authority, target, None)


def _parse_ada(url: str) -> ParsedURL:
    try:
        parts = ada_url.parse_url(url)
    except ValueError:
        raise ValueError(f"Invalid URL: {url}") from None
    scheme = parts["protocol"][:-1]
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"Invalid URL: {url}: scheme must be http or https")
    hostname = parts["hostname"]
    if not hostname:
        raise ValueError(f"Invalid URL: {url}: empty host")
    port = int(parts["port"]) if parts["port"] else _DEFAULT_PORTS[scheme]
    host = hostname[1:-1] if hostname.startswith("[") else hostname
    userinfo = None
    if parts["username"] or parts["password"]:
        userinfo = (unquote(parts["username"]), unquote(parts["password"]))
    href = parts["href"]
    return ParsedURL(
        href, scheme, host, port, parts["host"], (parts["pathname"] or "/") + parts["search"],
        userinfo,
    )


def encode_params(params: object) -> str:
    """Form-urlencode query params: a dict or an iterable of (key, value|None) pairs."""
    if isinstance(params, dict):
        items = params.items()
    elif isinstance(params, (str, bytes)) or not hasattr(params, "__iter__"):
        raise TypeError("params must be a dict or an iterable of (str, str | None) pairs")
    else:
        items = params  # type: ignore[assignment]
    out = []
    for item in items:
        try:
            key, value = item
        except (TypeError, ValueError):
            raise TypeError(
                "params must be a dict or an iterable of (str, str | None) pairs"
            ) from None
        if not isinstance(key, str) or not (value is None or isinstance(value, str)):
            raise TypeError("params keys must be str and values str or None")
        k = quote_plus(key, safe="*")
        out.append(k if value is None else f"{k}={quote_plus(value, safe='*')}")
    return "&".join(out)


def with_params(url: str, params: object) -> str:
    """`url` with `params` appended after its existing query (before any fragment)."""
    query = encode_params(params)
    if not query:
        return url
    base, hash_sign, frag = url.partition("#")
    sep = "&" if "?" in base else "?"
    if base.endswith(("?", "&")):
        sep = ""
    return f"{base}{sep}{query}{hash_sign}{frag}"
