"""SyncRequest: what a SyncTransport executes (spec §2)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, final

from ._headers import Headers
from ._multipart import SyncMultipart, multipart_request
from ._request import HeadersArg, ParamsArg, RequestBase, fixed_content, to_headers

SyncContent = bytes | Iterable[bytes] | dict[str, Any] | SyncMultipart | None


def to_sync_body(
    headers: HeadersArg | None, content: object
) -> tuple[Headers | None, bytes | Iterator[bytes], bool]:
    """(headers, body, is_json): a known body as bytes, a SyncMultipart encoded (a fresh
    boundary on a copy of the headers), anything else as `iter(content)` (a list streams its
    items); a non-iterable raises iter()'s own TypeError."""
    if content is None:  # (most requests: nothing to look at)
        return to_headers(headers), b"", False
    fixed = fixed_content(content)
    if fixed is not None:
        return to_headers(headers), *fixed
    if isinstance(content, SyncMultipart):
        return (*multipart_request(to_headers(headers), content), False)
    return to_headers(headers), iter(content), False  # type: ignore[call-overload]


@final
class SyncRequest(RequestBase[bytes | Iterator[bytes]]):
    """An HTTP request for a SyncTransport. A streamed body (any iterable of bytes) is pulled
    only once the connection exists, and closed when the exchange ends."""

    __slots__ = ()

    def __init_subclass__(cls, **kwargs: object) -> None:
        raise TypeError("type 'SyncRequest' is not an acceptable base type")

    def __init__(
        self,
        method: str,
        url: str,
        headers: HeadersArg | None = None,
        content: SyncContent = None,
        *,
        params: ParamsArg | None = None,
    ) -> None:
        self._init(method, url, params, headers, content, to_sync_body)
