"""What the transport does around each exchange: cookies out and in, auth from the URL,
redirects, and content decoding (spec §0 "Redirects", "Decompression"; §1.10, §1.12).

Each function here is off the hot path unless its feature is in play: a request with no
cookie jar, no userinfo and a response with none of the notable header fields costs one
check each.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from itertools import chain
from typing import NamedTuple

from cpqwest._errors import TooManyRedirects
from cpqwest._parser import HAS_CONTENT_ENCODING, HAS_LOCATION, HAS_SET_COOKIE

from ._cookies import CookieJar
from ._decompress import Decoder, make_decoder
from ._headers import Headers
from ._redirects import next_request
from ._url import ParsedURL, parse_url


class Codings(NamedTuple):
    """Which content codings the transport decodes (its enable_* options)."""

    gzip: bool
    brotli: bool
    zstd: bool


_NOTABLE_NAMES = {
    "content-encoding": HAS_CONTENT_ENCODING,
    "location": HAS_LOCATION,
    "set-cookie": HAS_SET_COOKIE,
}


def notable_of(pairs: list[tuple[str, str]]) -> int:
    """The `ResponseParser.notable` bits for header pairs parsed elsewhere (HTTP/2)."""
    bits = 0
    get = _NOTABLE_NAMES.get
    for name, _ in pairs:
        bits |= get(name, 0)
    return bits


def _cookie_url(url: ParsedURL) -> tuple[str, str, str]:
    host = f"[{url.host}]" if ":" in url.host else url.host
    return url.scheme, host, url.target


def outgoing_headers(
    url: ParsedURL, headers: Headers | None, jar: CookieJar | None
) -> Headers | None:
    """The headers to send: the caller's, plus `Cookie` from the jar and `Authorization` from
    URL credentials when the caller set none. The caller's Headers is never changed."""
    cookie = jar.header_for(_cookie_url(url)) if jar is not None else None
    userinfo = url.userinfo
    if cookie is None and userinfo is None:
        return headers
    out = Headers(headers._wire_pairs()) if headers else Headers()
    if cookie is not None and "cookie" not in out:
        out["cookie"] = cookie
    if userinfo is not None and "authorization" not in out:
        token = base64.b64encode(f"{userinfo[0]}:{userinfo[1]}".encode()).decode("ascii")
        out["authorization"] = f"Basic {token}"
    return out


def store_cookies(jar: CookieJar | None, url: ParsedURL, response_headers: Headers) -> None:
    if jar is not None:
        jar.store(_cookie_url(url), response_headers.getall("set-cookie"))


class Hop(NamedTuple):
    """The request a redirect leads to."""

    method: str
    url: ParsedURL
    headers: Headers | None
    body: bytes  # a streamed body cannot be replayed: its redirect is not followed
    is_json: bool


def redirect(
    method: str,
    url: ParsedURL,
    headers: Headers | None,
    body: bytes | AsyncIterator[bytes] | Iterator[bytes],
    is_json: bool,
    status: int,
    response_headers: Headers,
    hops: int,
    max_redirects: int,
) -> Hop | None:
    """The next request for a 3xx response, None to return the response as it is.
    `hops` counts the redirects followed so far, this one included."""
    nxt = next_request(
        method, url.href, status, response_headers.get("location"),
        body_replayable=isinstance(body, bytes),
    )
    if nxt is None:
        return None
    if hops > max_redirects:
        raise TooManyRedirects(
            f"Request failed: too many redirects (max_redirects={max_redirects})"
        )
    new_headers = None
    if headers or nxt.referer is not None:
        new_headers = Headers(
            (n, v) for n, v in (headers._wire_pairs() if headers else ())
            if n not in nxt.drop_headers
        )
        if nxt.referer is not None and "referer" not in new_headers:
            new_headers["referer"] = nxt.referer
    if nxt.keep_body and isinstance(body, bytes):
        return Hop(nxt.method, parse_url(nxt.url), new_headers, body, is_json)
    return Hop(nxt.method, parse_url(nxt.url), new_headers, b"", False)


def response_decoder(headers: Headers, codings: Codings) -> Decoder | None:
    """The decoder for a response's Content-Encoding, None to pass the body through. When it
    decodes, Content-Encoding and Content-Length no longer describe the body: both go."""
    decoder = make_decoder(
        ", ".join(headers.getall("content-encoding")),
        gzip=codings.gzip, brotli=codings.brotli, zstd=codings.zstd,
    )
    if decoder is not None:
        headers.pop("content-encoding", None)
        headers.pop("content-length", None)
    return decoder


def decode_whole(headers: Headers, body: bytes, codings: Codings) -> bytes:
    """A buffered body decoded per its Content-Encoding."""
    decoder = response_decoder(headers, codings)
    if decoder is None:
        return body
    return b"".join(chain(decoder.feed(body), decoder.finish()))
