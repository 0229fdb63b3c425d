"""What the ASGI and the WSGI transport both need: the request as a server sees it, and the
decisions about trailers, decoding and the 500 that stands for a broken app."""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import unquote

from .._decompress import Decoder
from .._headers import Headers
from .._policy import Codings, response_decoder
from .._request import Request
from .._sync_request import SyncRequest
from .._version import HTTPVersion

SERVER_VERSION = {HTTPVersion.HTTP1: "1.1", HTTPVersion.HTTP2: "2", HTTPVersion.HTTP3: "3"}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ALL_CODINGS = Codings(gzip=True, brotli=True, zstd=True)


class ServerView(NamedTuple):
    """A request as the server side sees it."""

    scheme: str
    path: str  # percent-decoded
    raw_path: str  # as on the wire
    query: str
    host: str
    port: int
    # the request's header pairs, plus host (from the URL) and the JSON content-type when the
    # request lacks them, as a server would receive them
    headers: list[tuple[str, str]]


def server_view(request: Request | SyncRequest) -> ServerView:
    url = request._parsed
    raw_path, _, query = url.target.partition("?")
    headers = list(request.headers.items())
    if "host" not in request.headers:
        headers.insert(0, ("host", url.authority))
    if request._json and "content-type" not in request.headers:
        headers.append(("content-type", "application/json"))
    return ServerView(
        url.scheme, unquote(raw_path), raw_path, query, url.host,
        url.port or _DEFAULT_PORTS[url.scheme], headers,
    )


def sends_trailers(version: HTTPVersion, request: Request | SyncRequest) -> bool:
    """Trailers reach the client only over HTTP/2, and only when it asked (`te: trailers`)."""
    return version == HTTPVersion.HTTP2 and request.headers.get("te") == "trailers"


def body_decoder(headers: Headers) -> Decoder | None:
    """The decoder for the app's content-encoding (every coding we know), None for none."""
    return response_decoder(headers, _ALL_CODINGS) if "content-encoding" in headers else None


PLAIN_TEXT = (("content-type", "text/plain"),)
