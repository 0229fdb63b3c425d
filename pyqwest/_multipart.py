"""multipart/form-data request bodies (API.md §3.4): the part classes and their encoders.

The wire layout is decided once, in `_segments`, which yields the framing as bytes and each
streamed part's iterator in between; the async and the sync encoder only differ in how they
pull those iterators. Buffered pieces are joined, so a form without streamed parts is one chunk.
"""

from __future__ import annotations

import secrets
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
)
from typing import ClassVar, Generic, TypeAlias, TypeVar, cast, final, overload

from ._headers import Headers, HTTPHeaderName

PartHeaders: TypeAlias = (
    Headers | Mapping[str | HTTPHeaderName, str] | Iterable[tuple[str | HTTPHeaderName, str]]
)

_MULTIPART_TYPE = "multipart/form-data"
CONTENT_TYPE_CONFLICT = (
    "Content-type header must be unset or multipart/form-data for multipart content"
)

# Part names and filenames are percent-encoded like reqwest does (the WHATWG path-segment set
# plus '/' and '%'), which keeps quotes and CR/LF out of the part head.
_ESCAPED = frozenset(' "<>`#?{}/%' + "".join(map(chr, range(0x20))) + "\x7f")

_C = TypeVar("_C", AsyncIterator[bytes], Iterable[bytes])
_P = TypeVar("_P", "Part", "SyncPart")


def _escape(value: str) -> str:
    if not any(c in _ESCAPED for c in value):
        return value
    return "".join(f"%{ord(c):02X}" if c in _ESCAPED else c for c in value)


class _Final:
    """Base of the four final classes: a subclass of one of them is a TypeError."""

    __slots__ = ()

    def __init_subclass__(cls, **kwargs: object) -> None:
        leaf = next((b for b in cls.__mro__[1:] if _Final in b.__bases__[1:]), None)
        if leaf is not None:
            raise TypeError(f"type '{leaf.__name__}' is not an acceptable base type")
        super().__init_subclass__(**kwargs)


class _BasePart(Generic[_C]):
    """What Part and SyncPart share; they differ in the kind of stream they take."""

    __slots__ = ("_content", "_filename", "_headers")
    _STREAM_METHOD: ClassVar[str]
    _CONTENT_ERROR: ClassVar[str]

    def __init__(
        self,
        content: bytes | str | _C,
        *,
        filename: str | None = None,
        headers: PartHeaders | None = None,
    ) -> None:
        if isinstance(content, str):
            content = content.encode()
        elif isinstance(content, (bytearray, memoryview)):
            content = bytes(content)
        elif not isinstance(content, bytes) and not hasattr(content, self._STREAM_METHOD):
            raise TypeError(self._CONTENT_ERROR)
        if filename is not None and not isinstance(filename, str):
            raise TypeError("Part filename must be str or None")
        self._content: bytes | _C = content
        self._filename = filename
        self._headers = headers if isinstance(headers, Headers) else Headers(headers)

    @property
    def content(self) -> bytes | _C:
        """The part's body: bytes, or the stream it is read from."""
        return self._content

    @property
    def filename(self) -> str | None:
        """The `filename` of the part's content-disposition, if any."""
        return self._filename

    @property
    def headers(self) -> Headers:
        """The part's own headers (e.g. content-type), sent after its content-disposition."""
        return self._headers

    def __repr__(self) -> str:
        return f"{type(self).__name__}(filename={self._filename!r})"


@final
class Part(_BasePart[AsyncIterator[bytes]], _Final):
    """One named value of a `Multipart` form: bytes, text (sent as UTF-8) or an async iterator
    of bytes (streamed). `headers` (e.g. content-type) go into the part's head."""

    __slots__ = ()
    _STREAM_METHOD = "__aiter__"
    _CONTENT_ERROR = "Part content must be bytes, str, or an async iterator of bytes"


@final
class SyncPart(_BasePart[Iterable[bytes]], _Final):
    """One named value of a `SyncMultipart` form: bytes, text (sent as UTF-8) or an iterable
    of bytes (streamed). `headers` (e.g. content-type) go into the part's head."""

    __slots__ = ()
    _STREAM_METHOD = "__iter__"
    _CONTENT_ERROR = "Part content must be bytes, str, or an iterable of bytes"


class _BaseForm(Generic[_P]):
    """What Multipart and SyncMultipart share; they differ in their part class."""

    __slots__ = ("_parts",)
    _PART: ClassVar[type]

    def __init__(
        self, parts: Mapping[str, _P | bytes | str] | Iterable[tuple[str, _P | bytes | str]]
    ) -> None:
        """`parts`: anything with `.items()`, or an iterable of (name, value) pairs; bytes and
        str values become parts."""
        items = parts.items() if hasattr(parts, "items") else parts
        if not isinstance(items, Iterable):
            raise TypeError(
                "Multipart parts must be a mapping or an iterable of (name, part) pairs"
            )
        part_type = cast("type[_P]", self._PART)
        out: list[tuple[str, _P]] = []
        for name, value in items:
            if not isinstance(name, str):
                raise TypeError("Part name must be str")
            if not isinstance(value, part_type):
                if not isinstance(value, (bytes, bytearray, str)):
                    raise TypeError(
                        f"Multipart values must be {part_type.__name__}, bytes or str, "
                        f"not {type(value).__name__}"
                    )
                value = part_type(bytes(value) if isinstance(value, bytearray) else value)
            out.append((name, value))
        self._parts: list[tuple[str, _P]] = out

    @property
    def parts(self) -> list[tuple[str, _P]]:
        """The named parts, in order (a new list each time)."""
        return list(self._parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({[name for name, _ in self._parts]!r})"


@final
class Multipart(_BaseForm[Part], _Final):
    """A multipart/form-data body for `Request` (`SyncMultipart` is the sync twin). Each Request
    made with it gets a new boundary and a copy of its headers carrying that content-type."""

    __slots__ = ()
    _PART = Part


@final
class SyncMultipart(_BaseForm[SyncPart], _Final):
    """A multipart/form-data body for `SyncRequest`; see `Multipart`."""

    __slots__ = ()
    _PART = SyncPart


# --- request headers -----------------------------------------------------------------------


def new_boundary() -> str:
    """A fresh boundary: 32 random hex digits."""
    return secrets.token_hex(16)


@overload
def multipart_request(
    headers: Headers | None, form: Multipart
) -> tuple[Headers, MultipartBody]: ...
@overload
def multipart_request(
    headers: Headers | None, form: SyncMultipart
) -> tuple[Headers, SyncMultipartBody]: ...
def multipart_request(
    headers: Headers | None, form: Multipart | SyncMultipart
) -> tuple[Headers, MultipartBody | SyncMultipartBody]:
    """A multipart request's headers and body: a fresh boundary, named by the content-type of
    a copy of `headers` (the caller's stay as they are)."""
    boundary = new_boundary()
    body = (
        MultipartBody(form, boundary) if isinstance(form, Multipart)
        else SyncMultipartBody(form, boundary)
    )
    return _multipart_headers(headers, boundary), body


def _multipart_headers(headers: Headers | None, boundary: str) -> Headers:
    """A copy of the request headers whose content-type names `boundary`; a content-type other
    than multipart/form-data (its parameters aside) is a ValueError."""
    out = Headers() if headers is None else Headers(headers.items())
    given = out.get("content-type")
    if given is not None and given.partition(";")[0].strip().lower() != _MULTIPART_TYPE:
        raise ValueError(CONTENT_TYPE_CONFLICT)
    out["content-type"] = f"{_MULTIPART_TYPE}; boundary={boundary}"
    return out


# --- encoding ------------------------------------------------------------------------------


def _part_head(boundary: str, name: str, part: Part | SyncPart) -> str:
    head = f'--{boundary}\r\ncontent-disposition: form-data; name="{_escape(name)}"'
    if part.filename is not None:
        head += f'; filename="{_escape(part.filename)}"'
    for key, value in part.headers.items():
        head += f"\r\n{key}: {value}"
    return head + "\r\n\r\n"


def _segments(
    parts: list[tuple[str, Part]] | list[tuple[str, SyncPart]], boundary: str
) -> Iterator[bytes | object]:
    """The body in order: framing and bytes parts joined into bytes, and each streamed part's
    content as it is (for the caller to pull)."""
    pending: list[bytes] = []
    for name, part in parts:
        pending.append(_part_head(boundary, name, part).encode())
        content = part.content
        if isinstance(content, bytes):
            pending.append(content)
        else:
            yield b"".join(pending)
            pending = []
            yield content
        pending.append(b"\r\n")
    pending.append(f"--{boundary}--\r\n".encode())
    yield b"".join(pending)


class _OpenStreams:
    """The streamed parts of one encoding; each is closed once, as it ends or (all that are
    left) when the encoding stops. The sync flavour closes the iterator it pulled from."""

    __slots__ = ("_open",)

    def __init__(self, parts: list[tuple[str, Part]] | list[tuple[str, SyncPart]]) -> None:
        # id -> the object to close
        self._open: dict[int, object] = {
            id(p.content): p.content for _, p in parts if not isinstance(p.content, bytes)
        }

    def iterate(self, stream: Iterable[bytes]) -> Iterator[bytes]:
        it = iter(stream)
        if id(stream) in self._open:
            self._open[id(stream)] = it
        return it

    def _take(self, stream: object | None) -> object | None:
        if stream is None:
            return self._open.popitem()[1] if self._open else None
        return self._open.pop(id(stream), None)

    async def aclose(self, stream: object | None = None) -> None:
        """Close `stream` (None: every one still open)."""
        while (target := self._take(stream)) is not None:
            aclose = getattr(target, "aclose", None)
            if aclose is not None:
                await aclose()
            if stream is not None:
                return

    def close(self, stream: object | None = None) -> None:
        """Close `stream` (None: every one still open)."""
        while (target := self._take(stream)) is not None:
            close = getattr(target, "close", None)
            if close is not None:
                close()
            if stream is not None:
                return


async def _encode(
    parts: list[tuple[str, Part]], boundary: str, streams: _OpenStreams
) -> AsyncGenerator[bytes, None]:
    try:
        for segment in _segments(parts, boundary):
            if isinstance(segment, bytes):
                yield segment
                continue
            async for chunk in cast("AsyncIterator[bytes]", segment):
                yield chunk
            await streams.aclose(segment)
    finally:
        await streams.aclose()


def _encode_sync(
    parts: list[tuple[str, SyncPart]], boundary: str, streams: _OpenStreams
) -> Generator[bytes, None, None]:
    try:
        for segment in _segments(parts, boundary):
            if isinstance(segment, bytes):
                yield segment
                continue
            yield from streams.iterate(cast("Iterable[bytes]", segment))
            streams.close(segment)
    finally:
        streams.close()


def encode_multipart(multipart: Multipart, boundary: str) -> AsyncGenerator[bytes, None]:
    """The body of `multipart` with `boundary`, as an async generator of chunks; every part
    stream is closed when the encoding ends or is aborted."""
    parts = multipart.parts
    return _encode(parts, boundary, _OpenStreams(parts))


def encode_multipart_sync(
    multipart: SyncMultipart, boundary: str
) -> Generator[bytes, None, None]:
    """The body of `multipart` with `boundary`, as a generator of chunks; every part stream is
    closed when the encoding ends or is aborted."""
    parts = multipart.parts
    return _encode_sync(parts, boundary, _OpenStreams(parts))


class MultipartBody:
    """A Request's multipart body: `encode_multipart` that also closes the part streams when
    it is closed before its first chunk (an unstarted async generator skips its `finally`)."""

    __slots__ = ("_gen", "_streams")

    def __init__(self, multipart: Multipart, boundary: str) -> None:
        parts = multipart.parts
        self._streams = _OpenStreams(parts)
        self._gen = _encode(parts, boundary, self._streams)

    def __aiter__(self) -> MultipartBody:
        return self

    def __anext__(self) -> Awaitable[bytes]:
        return self._gen.__anext__()

    async def aclose(self) -> None:
        """Stop the encoding and close every part stream."""
        await self._gen.aclose()
        await self._streams.aclose()


class SyncMultipartBody:
    """A SyncRequest's multipart body: the sync twin of `MultipartBody`."""

    __slots__ = ("_gen", "_streams")

    def __init__(self, multipart: SyncMultipart, boundary: str) -> None:
        parts = multipart.parts
        self._streams = _OpenStreams(parts)
        self._gen = _encode_sync(parts, boundary, self._streams)

    def __iter__(self) -> SyncMultipartBody:
        return self

    def __next__(self) -> bytes:
        return next(self._gen)

    def close(self) -> None:
        """Stop the encoding and close every part stream."""
        self._gen.close()
        self._streams.close()
