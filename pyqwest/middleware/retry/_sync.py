"""SyncRetryTransport: retries requests through another SyncTransport (API.md §3.6)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import final

from ..._sync_request import SyncRequest
from ..._sync_response import SyncResponse
from ..._sync_transport import SyncTransport
from ._shared import END, Recording, RetryMode, RetryOptions, request_mode


def _close(stream: object) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        close()


class _Recorded:
    """A BUFFERED streamed body: each try gets a replay of what was pulled so far, then more
    of the source (kept too)."""

    def __init__(self, source: Iterator[bytes]) -> None:
        self._source = source
        self._rec = Recording()

    def replay(self) -> Iterator[bytes]:
        rec = self._rec
        rec.start()
        try:
            i = 0
            while (chunk := rec.recorded(i)) is not END:
                if chunk is None:
                    try:
                        chunk = rec.keep(next(self._source))
                    except StopIteration:
                        rec.exhausted = True
                        return
                yield chunk  # type: ignore[misc]
                i += 1
        finally:
            if rec.stop():
                _close(self._source)

    def finish(self) -> None:
        if self._rec.finish():
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


class SyncRetryTransport(RetryOptions[SyncTransport, SyncRequest, SyncResponse]):
    """A `SyncTransport` that retries through `transport`; see `RetryTransport`."""

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
                wait = self._retry(budget, request, outcome, pulled)
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
