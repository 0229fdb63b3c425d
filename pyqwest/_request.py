"""Request: what a Transport executes (spec §1.3–1.4)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any, final

from ._headers import Headers, HTTPHeaderName
from ._url import parse_url, with_params

if TYPE_CHECKING:
    from ._url import ParsedURL

HeadersArg = (
    Headers | Mapping[str | HTTPHeaderName, str] | Iterable[tuple[str | HTTPHeaderName, str]]
)
ParamsArg = Mapping[str, str | None] | Iterable[tuple[str, str | None]]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
CONTENT_TYPE_ERROR = "Content must be bytes, an async iterator of bytes, or Multipart"


# the methods nearly every request uses skip the regex (it showed in per-request profiles)
_COMMON_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def check_method(method: str) -> str:
    if type(method) is str and method in _COMMON_METHODS:
        return method
    if not isinstance(method, str) or not _TOKEN.match(method):
        raise ValueError(f"Invalid HTTP method: {method!r}")
    return method


def to_headers(headers: HeadersArg | None) -> Headers | None:
    """A Headers is used by reference; anything else is converted (and validated)."""
    if headers is None or isinstance(headers, Headers):
        return headers
    return Headers(headers)


def to_content(content: object) -> tuple[bytes | AsyncIterator[bytes], bool]:
    """(body, is_json) for the accepted content kinds; TypeError for the rest."""
    if content is None:
        return b"", False
    if isinstance(content, bytes):
        return content, False
    if isinstance(content, (bytearray, memoryview)):
        return bytes(content), False
    if isinstance(content, dict):
        return json.dumps(content).encode(), True
    if hasattr(content, "__aiter__"):
        return content, False  # type: ignore[return-value]
    raise TypeError(CONTENT_TYPE_ERROR)


@final
class Request:
    """An HTTP request."""

    __slots__ = ("_content", "_headers", "_json", "_method", "_parsed", "_url")

    def __init_subclass__(cls, **kwargs: object) -> None:
        raise TypeError("type 'Request' is not an acceptable base type")

    def __init__(
        self,
        method: str,
        url: str,
        headers: HeadersArg | None = None,
        content: bytes | AsyncIterator[bytes] | dict[str, Any] | None = None,
        *,
        params: ParamsArg | None = None,
    ) -> None:
        self._method = check_method(method)
        if params is not None:
            url = with_params(url, params)
        self._parsed: ParsedURL = parse_url(url)
        self._url = self._parsed.href
        self._content, self._json = to_content(content)
        h = to_headers(headers)
        self._headers = Headers() if h is None else h

    @property
    def method(self) -> str:
        """The request method, case preserved."""
        return self._method

    @property
    def url(self) -> str:
        """The normalized URL (WHATWG serialization, ``params`` included)."""
        return self._url

    @property
    def headers(self) -> Headers:
        """The request headers."""
        return self._headers

    @property
    def content(self) -> bytes | AsyncIterator[bytes]:
        """The body, as ``bytes`` (``b""`` for none) or the async iterator that streams it."""
        return self._content

    def __repr__(self) -> str:
        return f"<Request {self._method} {self._url}>"
