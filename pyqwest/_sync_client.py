"""SyncClient: the blocking convenience methods over a SyncTransport (spec §2)."""

from __future__ import annotations

import contextlib

from ._options import check_timeout
from ._request import HeadersArg, ParamsArg
from ._response import FullResponse
from ._sync_http import SyncHTTPTransport, get_default_sync_transport
from ._sync_request import SyncContent, SyncRequest
from ._sync_response import SyncResponse
from ._sync_timeout import set_sync_timeout
from ._sync_transport import SyncTransport


def _deadline(timeout: float | None) -> contextlib.AbstractContextManager[None]:
    """The per-call deadline context (validated); nothing when no timeout was given."""
    seconds = check_timeout(timeout)
    return contextlib.nullcontext() if seconds is None else set_sync_timeout(seconds)


class SyncClient:
    """A blocking HTTP client. Cheap to make; it owns nothing but a reference to its transport.
    Every method takes a per-call `timeout` (seconds, total, body included)."""

    __slots__ = ("_fast", "_transport")

    def __init__(self, transport: SyncTransport | None = None) -> None:
        self._transport: SyncTransport = (
            get_default_sync_transport() if transport is None else transport
        )
        # our own transport reads buffered responses whole, unless a subclass overrides
        # execute_sync (then that is what runs, spec §1.11)
        self._fast: SyncHTTPTransport | None = (
            self._transport if isinstance(self._transport, SyncHTTPTransport)
            and type(self._transport).execute_sync is SyncHTTPTransport.execute_sync else None
        )

    def get(
        self,
        url: str,
        headers: HeadersArg | None = None,
        *,
        timeout: float | None = None,
        params: ParamsArg | None = None,
    ) -> FullResponse:
        """Send a GET request and read the whole response."""
        return self.execute("GET", url, headers, timeout=timeout, params=params)

    def delete(
        self,
        url: str,
        headers: HeadersArg | None = None,
        *,
        timeout: float | None = None,
        params: ParamsArg | None = None,
    ) -> FullResponse:
        """Send a DELETE request and read the whole response."""
        return self.execute("DELETE", url, headers, timeout=timeout, params=params)

    def head(
        self,
        url: str,
        headers: HeadersArg | None = None,
        *,
        timeout: float | None = None,
        params: ParamsArg | None = None,
    ) -> FullResponse:
        """Send a HEAD request and read the whole response."""
        return self.execute("HEAD", url, headers, timeout=timeout, params=params)

    def options(
        self,
        url: str,
        headers: HeadersArg | None = None,
        *,
        timeout: float | None = None,
        params: ParamsArg | None = None,
    ) -> FullResponse:
        """Send an OPTIONS request and read the whole response."""
        return self.execute("OPTIONS", url, headers, timeout=timeout, params=params)

    def post(
        self,
        url: str,
        headers: HeadersArg | None = None,
        content: SyncContent = None,
        *,
        timeout: float | None = None,
        params: ParamsArg | None = None,
    ) -> FullResponse:
        """Send a POST request and read the whole response."""
        return self.execute("POST", url, headers, content, timeout=timeout, params=params)

    def put(
        self,
        url: str,
        headers: HeadersArg | None = None,
        content: SyncContent = None,
        *,
        timeout: float | None = None,
        params: ParamsArg | None = None,
    ) -> FullResponse:
        """Send a PUT request and read the whole response."""
        return self.execute("PUT", url, headers, content, timeout=timeout, params=params)

    def patch(
        self,
        url: str,
        headers: HeadersArg | None = None,
        content: SyncContent = None,
        *,
        timeout: float | None = None,
        params: ParamsArg | None = None,
    ) -> FullResponse:
        """Send a PATCH request and read the whole response."""
        return self.execute("PATCH", url, headers, content, timeout=timeout, params=params)

    def execute(
        self,
        method: str,
        url: str,
        headers: HeadersArg | None = None,
        content: SyncContent = None,
        *,
        timeout: float | None = None,
        params: ParamsArg | None = None,
    ) -> FullResponse:
        """Send a request and read the whole response (the body within `timeout` too)."""
        if timeout is None:  # (no deadline context to enter: the common case, kept cheap)
            return self._execute(method, url, headers, content, params)
        with _deadline(timeout):
            return self._execute(method, url, headers, content, params)

    def _execute(
        self, method: str, url: str, headers: HeadersArg | None, content: SyncContent,
        params: ParamsArg | None,
    ) -> FullResponse:
        request = SyncRequest(method, url, headers, content, params=params)
        if self._fast is not None:
            return self._fast._execute_full(request)
        return read_full_sync(self._send(request))

    def stream(
        self,
        method: str,
        url: str,
        headers: HeadersArg | None = None,
        content: SyncContent = None,
        *,
        timeout: float | None = None,
        params: ParamsArg | None = None,
    ) -> SyncStreamContext:
        """Send a request now (errors raise from this call) and return a context manager
        giving the streaming response, closed on exit."""
        with _deadline(timeout):
            response = self._send(SyncRequest(method, url, headers, content, params=params))
        return SyncStreamContext(response)

    def _send(self, request: SyncRequest) -> SyncResponse:
        response = self._transport.execute_sync(request)
        if not isinstance(response, SyncResponse):
            raise TypeError(
                f"execute_sync must return a SyncResponse, got {type(response).__name__}"
            )
        return response


def read_full_sync(response: SyncResponse) -> FullResponse:
    """Drain a SyncResponse into a FullResponse; the response is closed afterwards."""
    try:
        chunks = list(response.content)
    finally:
        response.close()
    body = chunks[0] if len(chunks) == 1 and type(chunks[0]) is bytes else b"".join(chunks)
    full = FullResponse(response.status, response.headers, body, response.trailers)
    full._stamps = response._stamps
    return full


class SyncStreamContext:
    """What `SyncClient.stream()` returns: `with` gives the response and closes it on exit."""

    __slots__ = ("_response",)

    def __init__(self, response: SyncResponse) -> None:
        self._response = response

    def __enter__(self) -> SyncResponse:
        return self._response

    def __exit__(self, *exc_info: object) -> None:
        self._response.close()
