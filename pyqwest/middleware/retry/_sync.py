"""SyncRetryTransport: retries requests through another SyncTransport (API.md §3.6)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import final

from ..._sync_request import SyncRequest
from ..._sync_response import SyncResponse
from ..._sync_transport import SyncTransport
from ._shared import (
    RetryMode,
    RetryOptions,
    default_request_mode,
    default_should_retry,
    request_mode,
    resendable,
)


def _close(stream: object) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        close()


class _Recorded:
    """A BUFFERED streamed body: each try gets a replay of what was pulled so far, then more
    of the source (kept too). The source is closed once the last try is done with it."""

    def __init__(self, source: Iterator[bytes]) -> None:
        self._source = source
        self._chunks: list[bytes] = []
        self._exhausted = False
        self._active = False
        self._final = False

    def replay(self) -> Iterator[bytes]:
        self._active = True
        try:
            i = 0
            while True:
                if i < len(self._chunks):
                    yield self._chunks[i]
                elif self._exhausted:
                    return
                else:
                    chunk = next(self._source, None)
                    if chunk is None:
                        self._exhausted = True
                        return
                    if isinstance(chunk, (bytearray, memoryview)):
                        chunk = bytes(chunk)  # a reused buffer must not change under us
                    self._chunks.append(chunk)
                    yield chunk
                i += 1
        finally:
            self._active = False
            if self._final:
                _close(self._source)

    def finish(self) -> None:
        """No more tries: close the source now, or when the running replay ends."""
        self._final = True
        if not self._active:
            _close(self._source)


class _Unread:
    """An UNBUFFERED streamed body: passed through as it is; a try that never pulled it can be
    repeated, and it is closed at the end if nobody ever read it."""

    def __init__(self, source: Iterator[bytes]) -> None:
        self._source = source
        self.pulled = False

    def __iter__(self) -> _Unread:
        return self

    def __next__(self) -> bytes:
        self.pulled = True
        return next(self._source)

    def close(self) -> None:
        if self.pulled:
            _close(self._source)

    def finish(self) -> None:
        if not self.pulled:
            _close(self._source)


class SyncRetryTransport(RetryOptions[SyncTransport]):
    """A `SyncTransport` that retries through `transport`; see `RetryTransport`."""

    def should_retry_request(self, request: SyncRequest) -> bool | RetryMode:
        """Whether (and how) `request` may be retried: GET, HEAD, PUT and DELETE buffer a
        streamed body for replay, other methods don't; False sends it straight through."""
        return default_request_mode(request.method)

    def should_retry_response(
        self, request: SyncRequest, response: SyncResponse | Exception
    ) -> bool:
        """Whether an outcome is retried: connection errors always; for idempotent methods
        other errors, 429 and 5xx except 501."""
        if isinstance(response, Exception):
            return default_should_retry(request.method, None, response)
        return default_should_retry(request.method, response.status, None)

    @final
    def execute_sync(self, request: SyncRequest) -> SyncResponse:
        """Execute `request`, retrying per the hooks; retried responses are closed."""
        mode = request_mode(self.should_retry_request(request))
        if mode is None:
            return self._transport.execute_sync(request)
        budget = self._budget()
        content = request.content
        body: _Recorded | _Unread | None = None
        if not isinstance(content, bytes):
            body = _Recorded(content) if mode is RetryMode.BUFFERED else _Unread(content)
        try:
            while True:
                outcome = self._try(request, body)
                pulled = body.pulled if isinstance(body, _Unread) else None
                wait = budget.wait_before_retry(
                    outcome,
                    resendable(pulled, outcome) and self.should_retry_response(request, outcome),
                )
                if wait is None:
                    if isinstance(outcome, Exception):
                        raise outcome
                    return outcome
                if isinstance(outcome, SyncResponse):
                    outcome.close()
                time.sleep(wait)
        finally:
            if body is not None:
                body.finish()

    def _try(
        self, request: SyncRequest, body: _Recorded | _Unread | None
    ) -> SyncResponse | Exception:
        if body is not None:
            content = body.replay() if isinstance(body, _Recorded) else body
            request = SyncRequest(request.method, request.url, request.headers, content)
        try:
            return self._transport.execute_sync(request)
        except Exception as exc:
            return exc
