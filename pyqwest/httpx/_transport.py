"""httpx transports over pyqwest transports (API.md §3.1).

What both adapters share lives here once: header and timeout conversion, the request body,
the response object, and the one mapping of pyqwest errors to httpx's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, NoReturn

import httpx
from h2.errors import ErrorCodes
from h2.events import StreamReset

from cpqwest._errors import (
    ReadError,
    RemoteProtocolError,
    StreamError,
    TooManyRedirects,
    WriteError,
)

from .._headers import Headers
from .._request import Request
from .._response import Response
from .._sync_request import SyncRequest
from .._sync_response import SyncResponse
from .._sync_timeout import set_sync_timeout
from .._sync_transport import SyncTransport
from .._transport import Transport
from .._version import HTTPVersion
from ._deadline import Deadline

# connection management is the pyqwest transport's business, not the caller's
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                         "upgrade"})
_VERSIONS = {HTTPVersion.HTTP1: b"HTTP/1.1", HTTPVersion.HTTP2: b"HTTP/2",
             HTTPVersion.HTTP3: b"HTTP/3"}


def convert_headers(request: httpx.Request | httpx.Headers) -> Headers:
    """The request's headers as pyqwest Headers, without the hop-by-hop ones; the `host` httpx
    adds for the URL is left to the pyqwest transport, a custom one is kept."""
    if isinstance(request, httpx.Request):
        headers, netloc = request.headers, request.url.netloc.decode("ascii").lower()
    else:
        headers, netloc = request, None
    return Headers([
        (name, value) for name, value in headers.multi_items()
        if name not in _HOP_BY_HOP and not (name == "host" and value.lower() == netloc)
    ])


def convert_timeout(extensions: Mapping[str, Any]) -> float | None:
    """One deadline for the exchange from httpx's per-phase timeouts: read + write (a negative
    phase adds 0, a missing one is skipped); None when there is none, or a phase is None.
    Connect and pool timeouts belong to the pyqwest transport and are ignored."""
    timeout = extensions.get("timeout")
    if timeout is None:
        return None
    phases = timeout.as_dict() if isinstance(timeout, httpx.Timeout) else timeout
    total: float | None = None
    for phase in ("read", "write"):
        if phase not in phases:
            continue
        value = phases[phase]
        if value is None:
            return None
        total = (total or 0.0) + max(float(value), 0.0)
    return total


def _check_scheme(request: httpx.Request) -> None:
    if request.url.scheme not in ("http", "https"):
        raise httpx.UnsupportedProtocol(
            f"Request URL has an unsupported protocol '{request.url.scheme}://'.",
            request=request,
        )


def map_error(exc: BaseException, request: httpx.Request | None) -> httpx.HTTPError | None:
    """The httpx exception standing for a pyqwest failure (None: not one of those)."""
    if isinstance(exc, StreamError):
        code = ErrorCodes(int(exc.code))
        return httpx.RemoteProtocolError(
            str(StreamReset(stream_id=-1, error_code=code)), request=request
        )
    for ours, theirs in _SAME_NAMED:
        if isinstance(exc, ours):
            return theirs(str(exc), request=request)
    if isinstance(exc, ConnectionError):
        if isinstance(exc, TimeoutError):
            return httpx.ConnectTimeout(str(exc) or "timed out", request=request)
        return httpx.ConnectError(str(exc), request=request)
    if isinstance(exc, TimeoutError):
        return httpx.ReadTimeout(str(exc) or "timed out", request=request)
    return None


_SAME_NAMED: tuple[tuple[type[Exception], Callable[..., httpx.HTTPError]], ...] = (
    (RemoteProtocolError, httpx.RemoteProtocolError),
    (TooManyRedirects, httpx.TooManyRedirects),
    (WriteError, httpx.WriteError),
    (ReadError, httpx.ReadError),
)


def raise_mapped(exc: BaseException, request: httpx.Request | None) -> NoReturn:
    """Raise the httpx error for `exc` from it, or `exc` itself when it maps to none."""
    mapped = map_error(exc, request)
    if mapped is None:
        raise exc
    raise mapped from exc


def build_request(request: httpx.Request, factory: Callable[..., Any], content: Any) -> Any:
    """`factory(method, url, headers, content)`: a pyqwest (Sync)Request; a ValueError from
    validating it is httpx's LocalProtocolError."""
    _check_scheme(request)
    try:
        return factory(request.method, str(request.url), convert_headers(request), content)
    except ValueError as exc:
        raise httpx.LocalProtocolError(str(exc), request=request) from exc


def buffered_content(stream: object) -> bytes | None:
    """The body of an httpx request whose content is in memory, None for a streamed one."""
    if isinstance(stream, httpx.ByteStream):
        return b"".join(stream)
    return None


def to_httpx_response(
    status: int, version: HTTPVersion, headers: Headers, trailers: Headers, stream: Any
) -> httpx.Response:
    """The httpx Response over a pyqwest one; `get_trailers()` reads its (live) trailers."""
    return httpx.Response(
        status_code=status,
        headers=list(headers.items()),
        stream=stream,
        extensions={
            "http_version": _VERSIONS.get(version, b"HTTP/1.1"),
            "get_trailers": lambda: httpx.Headers(list(trailers.items())),
        },
    )


# --- async ---------------------------------------------------------------------------------


def _next_or_none(it: Iterator[bytes]) -> bytes | None:
    return next(it, None)


async def _async_body(stream: httpx.AsyncByteStream | httpx.SyncByteStream) -> AsyncIterator[bytes]:
    """A streamed httpx request body for pyqwest; a sync stream is pulled on a thread."""
    if isinstance(stream, httpx.AsyncByteStream):
        try:
            async for chunk in stream:
                yield chunk
        finally:
            await stream.aclose()
        return
    it = iter(stream)
    try:
        while (piece := await asyncio.to_thread(_next_or_none, it)) is not None:
            yield piece
    finally:
        stream.close()


class _AsyncResponseStream(httpx.AsyncByteStream):
    """The body of a pyqwest Response for httpx: bytes chunks, one pass, errors mapped."""

    def __init__(
        self, response: Response, deadline: Deadline | None, request: httpx.Request
    ) -> None:
        self._response = response
        self._deadline = deadline
        self._request = request
        self._consumed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._consumed:
            raise httpx.StreamConsumed()
        self._consumed = True
        content = self._response.content
        deadline = self._deadline
        try:
            if deadline is None:
                async for chunk in content:
                    yield bytes(chunk)
                return
            while True:
                try:
                    chunk = await deadline.wait(anext(content))
                except StopAsyncIteration:
                    deadline.cancel()
                    return
                yield bytes(chunk)
        except Exception as exc:
            raise_mapped(exc, self._request)

    async def aclose(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        await self._response.aclose()


class AsyncPyqwestTransport(httpx.AsyncBaseTransport):
    """An httpx async transport sending through a pyqwest `Transport`: use pyqwest from code
    written for `httpx.AsyncClient` (and get response trailers through the `get_trailers`
    response extension)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request`; resolves when the response headers arrive."""
        stream = request.stream
        body = buffered_content(stream)
        pq_request: Request = build_request(
            request, Request,
            body if body is not None else _async_body(stream),
        )
        timeout = convert_timeout(request.extensions)
        deadline = None
        try:
            if timeout is None:
                response = await self._transport.execute(pq_request)
            else:
                loop = asyncio.get_running_loop()
                deadline = Deadline(loop, loop.time() + timeout)
                response = await deadline.wait(self._transport.execute(pq_request))
        except Exception as exc:
            if deadline is not None:
                deadline.cancel()
            raise_mapped(exc, request)
        return to_httpx_response(
            response.status, response.http_version, response.headers, response.trailers,
            _AsyncResponseStream(response, deadline, request),
        )


# --- sync ----------------------------------------------------------------------------------


def _sync_body(stream: httpx.SyncByteStream) -> Iterator[bytes]:
    """A streamed httpx request body for pyqwest (closed with it)."""
    try:
        yield from stream
    finally:
        stream.close()


class _ResponseStream(httpx.SyncByteStream):
    """The body of a pyqwest SyncResponse for httpx: bytes chunks, one pass, errors mapped."""

    def __init__(self, response: SyncResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request
        self._consumed = False

    def __iter__(self) -> Iterator[bytes]:
        if self._consumed:
            raise httpx.StreamConsumed()
        self._consumed = True
        try:
            for chunk in self._response.content:
                yield bytes(chunk)
        except Exception as exc:
            raise_mapped(exc, self._request)

    def close(self) -> None:
        self._response.close()


class PyqwestTransport(httpx.BaseTransport):
    """An httpx transport sending through a pyqwest `SyncTransport`: use pyqwest from code
    written for `httpx.Client` (response trailers through the `get_trailers` extension)."""

    def __init__(self, transport: SyncTransport) -> None:
        self._transport = transport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request`; returns when the response headers arrive. httpx's read + write
        timeout becomes the sync deadline of the exchange, body reads included."""
        stream = request.stream
        body = buffered_content(stream)
        if body is None and not isinstance(stream, httpx.SyncByteStream):
            raise TypeError("PyqwestTransport needs a sync request stream")
        pq_request: SyncRequest = build_request(
            request, SyncRequest, body if body is not None else _sync_body(stream),  # type: ignore[arg-type]
        )
        timeout = convert_timeout(request.extensions)
        try:
            if timeout is None:
                response = self._transport.execute_sync(pq_request)
            else:
                with set_sync_timeout(timeout):
                    response = self._transport.execute_sync(pq_request)
        except Exception as exc:
            raise_mapped(exc, request)
        return to_httpx_response(
            response.status, response.http_version, response.headers, response.trailers,
            _ResponseStream(response, request),
        )


__all__ = ["AsyncPyqwestTransport", "PyqwestTransport", "convert_headers", "convert_timeout"]
