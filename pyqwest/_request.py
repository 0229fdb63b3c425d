"""Request: what a Transport executes (spec §1.3–1.4)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar, final

from ._headers import Headers, HTTPHeaderName
from ._multipart import Multipart, multipart_request
from ._url import ParsedURL, parse_url, with_params

HeadersArg = (
    Headers | Mapping[str | HTTPHeaderName, str] | Iterable[tuple[str | HTTPHeaderName, str]]
)
ParamsArg = Mapping[str, str | None] | Iterable[tuple[str, str | None]]

BodyT = TypeVar("BodyT")  # a request body as its API holds it

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


def fixed_content(content: object) -> tuple[bytes, bool] | None:
    """(body, is_json) for the content kinds sent as one known body (async and sync alike):
    None, bytes-like, a dict (JSON); None for anything else."""
    if content is None:
        return b"", False
    if isinstance(content, bytes):
        return content, False
    if isinstance(content, (bytearray, memoryview)):
        return bytes(content), False
    if isinstance(content, dict):
        return json.dumps(content).encode(), True
    return None


def to_content(content: object) -> tuple[bytes | AsyncIterator[bytes], bool]:
    """(body, is_json) for the accepted content kinds; TypeError for the rest."""
    if type(content) is bytes:
        return content, False
    fixed = fixed_content(content)
    if fixed is not None:
        return fixed
    if hasattr(content, "__aiter__"):
        return content, False  # type: ignore[return-value]
    raise TypeError(CONTENT_TYPE_ERROR)


def to_body(
    headers: HeadersArg | None, content: object
) -> tuple[Headers | None, bytes | AsyncIterator[bytes], bool]:
    """(headers, body, is_json) of a request: a Multipart body gets a fresh boundary and a copy
    of the headers naming it; other content leaves the headers as given."""
    if isinstance(content, Multipart):
        return (*multipart_request(to_headers(headers), content), False)
    body, is_json = to_content(content)
    return to_headers(headers), body, is_json


def parse_target(method: str, url: str, params: ParamsArg | None) -> tuple[str, ParsedURL]:
    """The checked method and the parsed URL (params appended) of a request."""
    method = check_method(method)
    if params is not None:
        url = with_params(url, params)
    return method, parse_url(url)


class RequestBase(Generic[BodyT]):
    """What `Request` and `SyncRequest` share: the checked method, the normalized URL and the
    headers; each API keeps its own body kinds (`content`)."""

    __slots__ = ("_content", "_headers", "_json", "_method", "_parsed", "_url")

    _content: BodyT

    def _init(
        self, method: str, url: str, params: ParamsArg | None, headers: HeadersArg | None,
        content: object,
        to_body: Callable[[HeadersArg | None, object], tuple[Headers | None, BodyT, bool]],
    ) -> None:
        """The method and URL are checked first, then the body (`to_body`: its API's kinds)."""
        self._method, self._parsed = parse_target(method, url, params)
        self._url = self._parsed.href
        h, self._content, self._json = to_body(headers, content)
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
        """The request headers (a ``Headers`` given is used by reference)."""
        return self._headers

    @property
    def content(self) -> BodyT:
        """The body: ``bytes`` (``b""`` for none), or the iterator that streams it (async for
        `Request`, any iterable's iterator for `SyncRequest`)."""
        return self._content

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._method} {self._url}>"


@final
class Request(RequestBase[bytes | AsyncIterator[bytes]]):
    """An HTTP request."""

    __slots__ = ()

    def __init_subclass__(cls, **kwargs: object) -> None:
        raise TypeError("type 'Request' is not an acceptable base type")

    def __init__(
        self,
        method: str,
        url: str,
        headers: HeadersArg | None = None,
        content: bytes | AsyncIterator[bytes] | dict[str, Any] | Multipart | None = None,
        *,
        params: ParamsArg | None = None,
    ) -> None:
        self._init(method, url, params, headers, content, to_body)
