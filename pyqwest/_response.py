"""Response (streaming) and FullResponse (buffered), spec §1.5–1.6."""

from __future__ import annotations

import codecs
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Protocol, Self, final

from cpqwest._errors import FULL_READ_FAILED, READ_FAILED, ReadError, RemoteProtocolError
from cpqwest._protocol import WAIT

from ._headers import Headers
from ._timings import Timings, timings_of
from ._version import HTTPVersion


def check_status(status: int) -> int:
    if not isinstance(status, int) or not 100 <= status <= 999:
        raise RemoteProtocolError(f"Invalid status code: {status}")
    return status


def _charset(headers: Headers) -> str:
    ctype = headers.get("content-type")
    if ctype:
        for param in ctype.split(";")[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset":
                name = value.strip().strip('"')
                try:
                    return codecs.lookup(name).name
                except LookupError:
                    break
    return "utf-8"


@final
class FullResponse:
    """A response whose body was read completely."""

    __slots__ = ("_content", "_headers", "_stamps", "_status", "_trailers")

    def __init_subclass__(cls, **kwargs: object) -> None:
        raise TypeError("type 'FullResponse' is not an acceptable base type")

    def __init__(self, status: int, headers: Headers, content: bytes, trailers: Headers) -> None:
        self._status = status
        self._headers = headers
        self._content = content
        self._trailers = trailers
        self._stamps: Any = None  # the exchange's clock readings (a wire response)

    @property
    def status(self) -> int:
        """The status code."""
        return self._status

    @property
    def headers(self) -> Headers:
        """The response headers."""
        return self._headers

    @property
    def content(self) -> bytes:
        """The whole body (decoded from its content-coding)."""
        return self._content

    @property
    def trailers(self) -> Headers:
        """The trailer fields (empty when the server sent none)."""
        return self._trailers

    @property
    def timings(self) -> Timings:
        """Where the exchange's time went (DNS, connect, TLS, request sent, first byte, body
        complete, connection reused); all ``None`` for a response that did not come off a
        connection (one built by hand or by a testing transport)."""
        return timings_of(self._stamps)

    def text(self) -> str:
        """The body decoded with the content-type's ``charset`` (UTF-8 when there is none, or
        when it names no text codec)."""
        try:
            return self._content.decode(_charset(self._headers), errors="replace")
        except (LookupError, UnicodeError):
            # the server named a codec that is no text encoding (base64, rot13, hex) or one
            # that cannot replace (idna, undefined): UTF-8, as httpx falls back
            return self._content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """``json.loads`` of the body, whatever the content-type says."""
        return json.loads(self._content)

    def __repr__(self) -> str:
        return f"<FullResponse [{self._status}]>"


class _BytesContent:
    """The async iterator of a bytes body: one chunk."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        self._data: bytes | None = data

    def __aiter__(self) -> _BytesContent:
        return self

    async def __anext__(self) -> bytes:
        data = self._data
        if not data:
            raise StopAsyncIteration
        self._data = None
        return data


class BodyState(Protocol):
    """The parser state a body source exposes to the response reading it."""

    @property
    def trailers(self) -> list[tuple[str, str]] | None: ...
    @property
    def message_done(self) -> bool: ...
    @property
    def body_size(self) -> int: ...


class BodySource(Protocol):
    """Where a wire response's body comes from: an HTTP/1.1 connection (cpqwest's
    H1Connection) or an HTTP/2 stream (pyqwest._h2.H2Stream)."""

    @property
    def parser(self) -> BodyState: ...
    def take_chunk(self) -> bytes | object | None: ...
    def wait_chunk(self) -> Awaitable[None]: ...
    def release(self) -> None: ...
    def abort(self, exc: BaseException | None = None) -> None: ...


class WireBody:
    """A response body read off a connection, async or sync alike: decodes the pieces, fills
    the trailers, and hands the connection back (or closes it) when done. The subclasses only
    add how to wait for the next piece."""

    __slots__ = ("_conn", "_decoder", "_pending", "_response")

    def __init__(self, response: Any, conn: Any, decoder: Any) -> None:
        self._response = response
        self._conn = conn
        self._decoder = decoder
        self._pending: Any = None  # decoded pieces not yet returned

    def _pending_piece(self) -> bytes | None:
        pending = self._pending
        if pending is not None:
            piece = next(pending, None)
            if piece is not None:
                return piece  # type: ignore[no-any-return]
            self._pending = None
        return None

    def _decoded(self, chunk: bytes) -> bytes | None:
        """The next piece to return for a body chunk; None when the decoder needs more."""
        if self._decoder is None:
            return chunk
        self._pending = iter(self._decoder.feed(chunk))
        return self._pending_piece()

    def _ended(self, conn: Any) -> bytes | None:
        """The body ended: trailers in, connection handed back; the decoder's last piece."""
        trailers = conn.parser.trailers
        self._conn = None
        conn.release()
        if trailers:
            self._response._trailers._extend_wire(trailers)
        if self._decoder is None:
            return None
        self._pending = iter(self._decoder.finish())
        self._decoder = None
        return self._pending_piece()

    def close(self) -> None:
        """Stop reading: the connection is reused if the whole message arrived, else closed
        (which wakes a reader waiting on it with ReadError)."""
        conn = self._conn
        if conn is None:
            return
        self._conn = None
        if conn.parser.message_done and not conn.parser.body_size:
            # fully received, just not iterated to the end: still reusable
            conn.release()
        else:
            conn.abort(ReadError("response closed"))


class _WireContent(WireBody):
    """The async iterator of a wire body."""

    __slots__ = ()

    def __aiter__(self) -> _WireContent:
        return self

    async def __anext__(self) -> bytes:
        piece = self._pending_piece()
        if piece is not None:
            return piece
        while True:
            conn = self._conn
            if conn is None:
                raise StopAsyncIteration
            chunk = conn.take_chunk()
            if chunk is WAIT:
                self._response._read_pending = True
                try:
                    await conn.wait_chunk()
                finally:
                    self._response._read_pending = False
                if self._conn is None:
                    # closed while we waited
                    raise ReadError("Error reading content: response closed")
                continue
            piece = self._ended(conn) if chunk is None else self._decoded(chunk)
            if piece is not None:
                return piece
            if chunk is None:
                raise StopAsyncIteration


class ResponseBase:
    """What Response and SyncResponse share: the head, the trailers, the close state, and
    that an unclosed wire response gives its connection up when collected."""

    __slots__ = ("__weakref__", "_closed", "_content", "_headers", "_http_version",
                 "_read_pending", "_stamps", "_status", "_trailers")

    def _init(
        self,
        status: int,
        http_version: HTTPVersion | None,
        headers: Headers | None,
        trailers: Headers | None,
        content: Any,
    ) -> None:
        self._status = check_status(status)
        self._http_version = HTTPVersion.HTTP1 if http_version is None else http_version
        self._headers = Headers() if headers is None else headers
        self._trailers = Headers() if trailers is None else trailers
        self._content = content
        self._closed = False
        self._read_pending = False
        self._stamps: Any = None

    @classmethod
    def _wire(
        cls, status: int, version: HTTPVersion, headers: Headers, body: type[WireBody],
        conn: Any, decoder: Any,
    ) -> Self:
        self = cls.__new__(cls)
        self._status = status
        self._http_version = version
        self._headers = headers
        self._trailers = Headers()
        self._content = body(self, conn, decoder)
        self._closed = False
        self._read_pending = False
        self._stamps = conn.stamps
        return self

    @property
    def status(self) -> int:
        """The status code."""
        return self._status

    @property
    def http_version(self) -> HTTPVersion:
        """The HTTP version the response came over."""
        return self._http_version

    @property
    def headers(self) -> Headers:
        """The response headers."""
        return self._headers

    @property
    def trailers(self) -> Headers:
        """The trailers; filled once the body has been read to its end."""
        return self._trailers

    @property
    def timings(self) -> Timings:
        """Where the exchange's time went (DNS, connect, TLS, request sent, first byte, body
        complete, connection reused), as of now: ``body_complete`` is ``None`` until the body
        has arrived. All ``None`` for a response that did not come off a connection."""
        return timings_of(self._stamps)

    def __del__(self) -> None:
        # an unclosed response must not keep its connection (or the request body) alive
        content = getattr(self, "_content", None)
        if isinstance(content, WireBody):
            with contextlib.suppress(Exception):
                content.close()


class Response(ResponseBase):
    """A response whose body streams in (`content`); close it (or `async with` it) when done."""

    __slots__ = ()

    def __init__(
        self,
        *,
        status: int,
        http_version: HTTPVersion | None = None,
        headers: Headers | None = None,
        content: bytes | AsyncIterator[Any] | None = None,
        trailers: Headers | None = None,
    ) -> None:
        self._init(
            status, http_version, headers, trailers,
            _BytesContent(content or b"") if content is None or isinstance(content, bytes)
            else content,
        )

    @classmethod
    def _from_wire(
        cls, status: int, version: HTTPVersion, headers: Headers, conn: BodySource,
        decoder: Any,
    ) -> Response:
        return cls._wire(status, version, headers, _WireContent, conn, decoder)

    @property
    def content(self) -> AsyncIterator[Any]:
        """The body as an async iterator of ``bytes``/``memoryview`` chunks, decoded."""
        return self._content  # type: ignore[no-any-return]

    def aclose(self) -> Awaitable[None]:
        """Close the body: a pending read raises :class:`ReadError`, later reads end; idempotent."""
        return self._aclose()

    async def _aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        content = self._content
        if isinstance(content, _WireContent):
            content.close()
        elif isinstance(content, _BytesContent):
            content._data = None
        else:
            aclose = getattr(content, "aclose", None)
            if aclose is not None:
                await aclose()
        self._read_pending = False

    async def __aenter__(self) -> Response:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<Response [{self._status}]>"


async def read_full(response: Response) -> FullResponse:
    """Drain a streaming response into a FullResponse; the response is closed afterwards."""
    try:
        chunks = [bytes(c) async for c in response.content]
    finally:
        await response.aclose()
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    full = FullResponse(response.status, response.headers, body, response.trailers)
    full._stamps = response._stamps
    return full


def as_buffered_read(exc: BaseException) -> None:
    """Word a streamed read's failure as the buffered path does (spec §1.1: "Error reading
    full content: …"), for a buffered call that read its body through the stream."""
    args = exc.args
    if args and isinstance(args[0], str) and args[0].startswith(READ_FAILED):
        exc.args = (FULL_READ_FAILED + args[0][len(READ_FAILED):], *args[1:])
