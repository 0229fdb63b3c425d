"""`HTTPVersion` (API.md §1.9)."""

from __future__ import annotations

from enum import Enum

__all__ = ["HTTPVersion"]


class HTTPVersion(Enum):
    """An HTTP protocol version. Members are singletons, ordered HTTP1 < HTTP2 < HTTP3."""

    # The values are the strings str() shows (and the status-line spelling).
    HTTP1 = "HTTP/1.1"
    HTTP2 = "HTTP/2"
    HTTP3 = "HTTP/3"

    def __str__(self) -> str:
        return self._value_

    def __repr__(self) -> str:
        return f"HTTPVersion.{self._name_}"

    # Enum has no ordering; compare by declaration order. Other types: NotImplemented, so
    # `<` raises TypeError as it does for unrelated objects.
    def __lt__(self, other: object) -> bool:
        if type(other) is HTTPVersion:
            return _RANK[self] < _RANK[other]
        return NotImplemented

    def __le__(self, other: object) -> bool:
        if type(other) is HTTPVersion:
            return _RANK[self] <= _RANK[other]
        return NotImplemented

    def __gt__(self, other: object) -> bool:
        if type(other) is HTTPVersion:
            return _RANK[self] > _RANK[other]
        return NotImplemented

    def __ge__(self, other: object) -> bool:
        if type(other) is HTTPVersion:
            return _RANK[self] >= _RANK[other]
        return NotImplemented


_RANK = {version: rank for rank, version in enumerate(HTTPVersion)}
