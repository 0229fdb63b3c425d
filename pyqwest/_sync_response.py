"""SyncResponse: a response whose body is a (blocking) iterator (spec §2)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from cpqwest._errors import ReadError

from ._headers import Headers
from ._response import BodyState, ResponseBase, WireBody
from ._version import HTTPVersion

Buffer = bytes | bytearray | memoryview


class SyncBodySource(Protocol):
    """Where a sync wire response's body comes from (a blocking HTTP/1.1 or HTTP/2 driver)."""

    @property
    def parser(self) -> BodyState: ...
    def read_chunk(self) -> bytes | None:
        """The next body piece, blocking; None at the end; raises the spec's read errors."""
    def release(self) -> None: ...
    def abort(self, exc: BaseException | None = None) -> None:
        """Close for good; a thread blocked in read_chunk wakes with ReadError at once."""


class _SyncWireContent(WireBody):
    """The iterator of a wire body."""

    __slots__ = ()

    def __iter__(self) -> _SyncWireContent:
        return self

    def __next__(self) -> bytes:
        piece = self._pending_piece()
        if piece is not None:
            return piece
        while True:
            conn = self._conn
            if conn is None:
                raise StopIteration
            self._response._read_pending = True
            try:
                chunk = conn.read_chunk()
            finally:
                self._response._read_pending = False
            if self._conn is None:
                # closed by another thread while we read
                raise ReadError("Error reading content: response closed")
            piece = self._ended(conn) if chunk is None else self._decoded(chunk)
            if piece is not None:
                return piece
            if chunk is None:
                raise StopIteration


class SyncResponse(ResponseBase):
    """A response whose body streams in through the `content` iterator; close it (or use
    `with`) when done. `close()` from another thread wakes a reader blocked in
    `next(content)` with ReadError."""

    __slots__ = ()

    def __init__(
        self,
        *,
        status: int,
        http_version: HTTPVersion | None = None,
        headers: Headers | None = None,
        content: bytes | Iterable[Buffer] | None = None,
        trailers: Headers | None = None,
    ) -> None:
        self._init(
            status, http_version, headers, trailers,
            iter((content,) if content else ()) if content is None or isinstance(content, bytes)
            else iter(content),
        )

    @classmethod
    def _from_wire(
        cls, status: int, version: HTTPVersion, headers: Headers, conn: SyncBodySource,
        decoder: Any,
    ) -> SyncResponse:
        return cls._wire(status, version, headers, _SyncWireContent, conn, decoder)

    @property
    def content(self) -> Iterator[Buffer]:
        """The body, as an iterator of byte chunks."""
        return self._content  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop the body: the connection is released (or closed) and later reads end.
        Idempotent; safe from another thread."""
        if self._closed:
            return
        self._closed = True
        content = self._content
        if isinstance(content, WireBody):
            content.close()
        else:
            close = getattr(content, "close", None)
            if close is not None:
                # a generator another thread is running cannot be closed (ValueError)
                with contextlib.suppress(ValueError):
                    close()
        self._read_pending = False

    def __enter__(self) -> SyncResponse:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SyncResponse [{self._status}]>"
