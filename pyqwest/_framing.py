"""How a request body is framed on the wire, for HTTP/1.1 and HTTP/2 alike (RFC 9112 §6,
RFC 9113 §8.1.1).

A caller's ``Content-Length`` or ``Transfer-Encoding`` header field decides with the body: a
length that does not match a bytes body, or both fields at once, would let the server read
part of the body as another request (smuggling through our API), so they are refused with a
``ValueError`` before any byte is sent, as h11 (httpx) refuses them. A caller's
``Transfer-Encoding`` ending in ``chunked`` means "send it chunked": the body is chunk-encoded
on HTTP/1.1 (HTTP/2 has no transfer codings: its frames delimit the body).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from ._headers import Headers

__all__ = ["body_framing"]

# methods that carry "content-length: 0" with an empty body (as hyper does)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def body_framing(
    method: str, headers: Headers | None, body: bytes | AsyncIterator[bytes] | Iterator[bytes]
) -> tuple[int, bool]:
    """``(length, chunked)`` for a request: the body's length as its head declares it (-1:
    none, or chunked) and whether it goes chunked on HTTP/1.1. The head builders add a
    ``Content-Length`` of ``length`` when the caller set none. ValueError for caller fields
    that would frame the body otherwise."""
    fields = headers._map() if headers is not None else None
    if fields is None or ("content-length" not in fields and "transfer-encoding" not in fields):
        if isinstance(body, bytes):
            return (len(body) if body or method in _BODY_METHODS else -1), False
        return -1, True
    return _caller_framing(fields.get("content-length"), fields.get("transfer-encoding"), body)


def _caller_framing(
    lengths: list[str] | None,
    codings: list[str] | None,
    body: bytes | AsyncIterator[bytes] | Iterator[bytes],
) -> tuple[int, bool]:
    if lengths is not None and codings is not None:
        raise ValueError("Content-Length and Transfer-Encoding headers cannot both be set")
    if codings is not None:
        value = ", ".join(codings)
        last = value.rsplit(",", 1)[-1].strip().lower()
        if last != "chunked":
            raise ValueError(f"Transfer-Encoding header must end with chunked, got {value!r}")
        return -1, True
    assert lengths is not None
    value = lengths[0]
    if len(lengths) > 1 or not value.isdigit() or not value.isascii():
        raise ValueError(f"Invalid Content-Length header: {', '.join(lengths)!r}")
    length = int(value)
    if isinstance(body, bytes) and length != len(body):
        raise ValueError(
            f"Content-Length header ({length}) does not match the body length ({len(body)})"
        )
    return length, False
