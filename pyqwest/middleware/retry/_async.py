"""RetryTransport: retries requests through another Transport (API.md §3.6)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import final

from ..._request import Request
from ..._response import Response
from ..._transport import Transport
from ._shared import END, Recording, RetryMode, RetryOptions, request_mode


async def _aclose(stream: object) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


class _Recorded:
    """A BUFFERED streamed body: each try gets a replay of what was pulled so far, then more
    of the source (kept too)."""

    def __init__(self, source: AsyncIterator[bytes]) -> None:
        self._source = source
        self._rec = Recording()

    async def replay(self) -> AsyncIterator[bytes]:
        rec = self._rec
        rec.start()
        try:
            i = 0
            while (chunk := rec.recorded(i)) is not END:
                if chunk is None:
                    try:
                        chunk = rec.keep(await anext(self._source))
                    except StopAsyncIteration:
                        rec.exhausted = True
                        return
                yield chunk  # type: ignore[misc]
                i += 1
        finally:
            if rec.stop():
                await _aclose(self._source)

    async def finish(self) -> None:
        if self._rec.finish():
            await _aclose(self._source)


class _Unread:
    """An UNBUFFERED streamed body: passed through as it is; a try that never pulled it can be
    repeated, and it is closed at the end if nobody ever read it."""

    def __init__(self, source: AsyncIterator[bytes]) -> None:
        self._source = source
        self.pulled = False

    def __aiter__(self) -> _Unread:
        return self

    def __anext__(self) -> Awaitable[bytes]:
        self.pulled = True
        return self._source.__anext__()

    async def aclose(self) -> None:
        if self.pulled:
            await _aclose(self._source)

    async def finish(self) -> None:
        if not self.pulled:
            await _aclose(self._source)


class RetryTransport(RetryOptions[Transport, Request, Response]):
    """A `Transport` that retries through `transport` with exponential backoff (waits from
    `initial_interval`, x`multiplier` up to `max_interval`, ±`randomization_factor`), at most
    `max_retries` times. Override `should_retry_request` and `should_retry_response` to change
    what is retried.
    """

    @final
    async def execute(self, request: Request) -> Response:
        """Execute `request`, retrying per the hooks; retried responses are closed."""
        mode = request_mode(self.should_retry_request(request))
        if mode is None:
            return await self._transport.execute(request)
        budget = self._budget()
        content = request.content
        body: _Recorded | _Unread | None = None
        if not isinstance(content, bytes):
            body = _Recorded(content) if mode is RetryMode.BUFFERED else _Unread(content)
        try:
            while True:
                outcome = await self._try(request, body)
                pulled = body.pulled if isinstance(body, _Unread) else None
                wait = self._retry(budget, request, outcome, pulled)
                if wait is None:
                    if isinstance(outcome, Exception):
                        raise outcome
                    return outcome
                if isinstance(outcome, Response):
                    await outcome.aclose()
                await asyncio.sleep(wait)
        finally:
            if body is not None:
                await body.finish()

    async def _try(
        self, request: Request, body: _Recorded | _Unread | None
    ) -> Response | Exception:
        if body is not None:
            content = body.replay() if isinstance(body, _Recorded) else body
            request = Request(request.method, request.url, request.headers, content)
        try:
            return await self._transport.execute(request)
        except Exception as exc:
            return exc
