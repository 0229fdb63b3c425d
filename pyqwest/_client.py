"""Client: the convenience methods over a Transport (spec §1.2)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from types import TracebackType
from typing import Any

from ._headers import Headers
from ._multipart import Multipart
from ._request import HeadersArg, ParamsArg, Request
from ._response import FullResponse, Response
from ._transport import HTTPTransport, Transport, get_default_transport

Content = bytes | AsyncIterator[bytes] | dict[str, Any] | Multipart | None


class Client:
    """An HTTP client. Cheap to make; it owns nothing but a reference to its transport."""

    __slots__ = ("_fast", "_transport")

    def __init__(self, transport: Transport | None = None) -> None:
        self._transport: Transport = get_default_transport() if transport is None else transport
        # our own transport has a buffered path that skips the Request/Response objects,
        # unless a subclass overrides execute: then that is what runs (spec §1.11)
        self._fast: HTTPTransport | None = (
            self._transport if isinstance(self._transport, HTTPTransport)
            and type(self._transport).execute is HTTPTransport.execute else None
        )

    async def get(
        self, url: str, headers: HeadersArg | None = None, *, params: ParamsArg | None = None
    ) -> FullResponse:
        """Send a GET request and read the whole response (see :meth:`execute`)."""
        return await self.execute("GET", url, headers, params=params)

    async def delete(
        self, url: str, headers: HeadersArg | None = None, *, params: ParamsArg | None = None
    ) -> FullResponse:
        """Send a DELETE request and read the whole response (see :meth:`execute`)."""
        return await self.execute("DELETE", url, headers, params=params)

    async def head(
        self, url: str, headers: HeadersArg | None = None, *, params: ParamsArg | None = None
    ) -> FullResponse:
        """Send a HEAD request and read the whole response (see :meth:`execute`)."""
        return await self.execute("HEAD", url, headers, params=params)

    async def options(
        self, url: str, headers: HeadersArg | None = None, *, params: ParamsArg | None = None
    ) -> FullResponse:
        """Send a OPTIONS request and read the whole response (see :meth:`execute`)."""
        return await self.execute("OPTIONS", url, headers, params=params)

    async def post(
        self,
        url: str,
        headers: HeadersArg | None = None,
        content: Content = None,
        *,
        params: ParamsArg | None = None,
    ) -> FullResponse:
        """Send a POST request with ``content``; the whole response (see :meth:`execute`)."""
        return await self.execute("POST", url, headers, content, params=params)

    async def put(
        self,
        url: str,
        headers: HeadersArg | None = None,
        content: Content = None,
        *,
        params: ParamsArg | None = None,
    ) -> FullResponse:
        """Send a PUT request with ``content``; the whole response (see :meth:`execute`)."""
        return await self.execute("PUT", url, headers, content, params=params)

    async def patch(
        self,
        url: str,
        headers: HeadersArg | None = None,
        content: Content = None,
        *,
        params: ParamsArg | None = None,
    ) -> FullResponse:
        """Send a PATCH request with ``content``; the whole response (see :meth:`execute`)."""
        return await self.execute("PATCH", url, headers, content, params=params)

    async def execute(
        self,
        method: str,
        url: str,
        headers: HeadersArg | None = None,
        content: Content = None,
        *,
        params: ParamsArg | None = None,
    ) -> FullResponse:
        """Send ``method`` to ``url`` and read the whole response into a :class:`FullResponse`.

        ``headers``: a :class:`Headers` (used as is), a mapping or ``(name, value)`` pairs.
        ``content``: ``None`` (no body), ``bytes``, a ``dict`` (sent as JSON) or an async
        iterator of ``bytes`` (streamed). ``params`` are appended to the URL's query.
        Raises the errors of the transport (:doc:`/errors`): ``ConnectionError``,
        ``TimeoutError``, :class:`ReadError`, :class:`WriteError`, ...
        """
        fast = self._fast
        if fast is not None:
            return await fast._fetch(method, url, headers, content, params)
        request = Request(method, url, headers, content, params=params)
        response = await self._transport.execute(request)
        return await read_full(response)

    def stream(
        self,
        method: str,
        url: str,
        headers: HeadersArg | None = None,
        content: Content = None,
        *,
        params: ParamsArg | None = None,
    ) -> StreamContext:
        """The response as a stream: ``async with client.stream(...) as resp`` starts the
        request on entry, yields a :class:`Response` once its head arrived, and closes it on
        exit. ``await client.stream(...)`` works too (then close the response yourself).
        Arguments as for :meth:`execute`.
        """
        return StreamContext(self._transport, Request(method, url, headers, content, params=params))


async def read_full(response: Response) -> FullResponse:
    """Drain a streaming response into a FullResponse; the response is closed afterwards."""
    try:
        chunks = [bytes(c) async for c in response.content]
    finally:
        await response.aclose()
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return FullResponse(response.status, response.headers, body, response.trailers)


class StreamContext:
    """`client.stream(...)`: works both as `async with` and awaited (then `async with resp`)."""

    __slots__ = ("_request", "_response", "_transport")

    def __init__(self, transport: Transport, request: Request) -> None:
        self._transport = transport
        self._request = request
        self._response: Response | None = None

    def __await__(self) -> Generator[Any, None, Response]:
        return self._transport.execute(self._request).__await__()

    async def __aenter__(self) -> Response:
        self._response = await self._transport.execute(self._request)
        return self._response

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        response, self._response = self._response, None
        if response is not None:
            await response.aclose()


__all__ = ["Client", "Headers", "StreamContext"]
