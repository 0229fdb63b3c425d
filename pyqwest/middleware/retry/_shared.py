"""The retry decisions both RetryTransport and SyncRetryTransport make (API.md §3.6), free of
I/O: which requests and outcomes are retried, how long to wait, when the budget is spent."""

from __future__ import annotations

import math
import time
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Generic, Protocol, TypeVar

from cpqwest._errors import ReadError

from ..._headers import Headers
from ._backoff import _Backoff


class RetryMode(Enum):
    """How a request with a streamed body is retried."""

    BUFFERED = "buffered"
    """The body is recorded as it is sent and replayed on a retry."""
    UNBUFFERED = "unbuffered"
    """The body is not kept: a retry only happens when it was never read."""


# RFC 9110 §9.2.2, as the original's default hooks see it
_RETRIED_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})


def default_request_mode(method: str) -> RetryMode:
    """The default `should_retry_request`: idempotent methods buffer their body for replay."""
    return RetryMode.BUFFERED if method in _RETRIED_METHODS else RetryMode.UNBUFFERED


def default_should_retry(method: str, status: int | None, error: BaseException | None) -> bool:
    """The default `should_retry_response`: connection errors always (nothing was processed);
    for idempotent methods other errors, 429, and 5xx other than 501."""
    if isinstance(error, ConnectionError):
        return True
    if method not in _RETRIED_METHODS:
        return False
    if error is not None:
        return True
    assert status is not None
    return status == 429 or (status >= 500 and status != 501)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After value: non-negative integer seconds or a future HTTP
    date; None for anything else (negative, past, malformed)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    wait = when.timestamp() - time.time()
    return wait if wait > 0 and math.isfinite(wait) else None


def request_mode(decision: bool | RetryMode) -> RetryMode | None:
    """A `should_retry_request` answer as a mode; None: send the request straight through."""
    if decision is True:
        return RetryMode.BUFFERED
    if decision is False:
        return None
    return decision


def resendable(unbuffered_pulled: bool | None, outcome: object) -> bool:
    """Whether the body can go out again after `outcome`: always, except an UNBUFFERED stream
    (`unbuffered_pulled` not None), which only can when it failed before anyone read it."""
    return unbuffered_pulled is None or (not unbuffered_pulled and isinstance(outcome, Exception))


class _Outcome(Protocol):
    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> Headers: ...


class RetryBudget:
    """One request's retries: whether an outcome is retried, and the wait before the next try.
    Raises the spec's error once more than `max_retries` retries would be needed."""

    __slots__ = ("_backoff", "_max_retries", "_retries")

    def __init__(self, backoff: _Backoff, max_retries: int) -> None:
        self._backoff = backoff
        self._max_retries = max_retries
        self._retries = 0

    def wait_before_retry(self, outcome: _Outcome | Exception, retry: bool) -> float | None:
        """Seconds to wait before trying again; None to hand `outcome` to the caller as it is.
        `retry`: the hook wants this outcome retried and the body can be sent again."""
        if not retry:
            return None
        if self._retries >= self._max_retries:
            if isinstance(outcome, ConnectionError):
                raise outcome
            error = ReadError(f"Maximum retry attempts exceeded: {self._max_retries}")
            if isinstance(outcome, Exception):
                raise error from outcome
            raise error
        wait = None
        if not isinstance(outcome, Exception) and outcome.status == 429:
            wait = parse_retry_after(outcome.headers.get("retry-after"))
        if wait is None:
            wait = self._backoff.next_backoff()
            if wait is None:
                return None
        self._retries += 1
        return wait


class _Request(Protocol):
    @property
    def method(self) -> str: ...


_T = TypeVar("_T")
_Req = TypeVar("_Req", bound=_Request)
_Resp = TypeVar("_Resp", bound=_Outcome)


class RetryOptions(Generic[_T, _Req, _Resp]):
    """What RetryTransport and SyncRetryTransport share: the wrapped transport, the backoff
    options (each request gets a fresh `RetryBudget` from them) and the two hooks."""

    def __init__(
        self,
        transport: _T,
        initial_interval: float = 0.5,
        randomization_factor: float = 0.5,
        multiplier: float = 1.5,
        max_interval: float = 60.0,
        max_retries: int = 4,
    ) -> None:
        self._transport = transport
        self._initial_interval = initial_interval
        self._randomization_factor = randomization_factor
        self._multiplier = multiplier
        self._max_interval = max_interval
        self._max_retries = max_retries

    def should_retry_request(self, request: _Req) -> bool | RetryMode:
        """Whether (and how) `request` may be retried: GET, HEAD, PUT and DELETE buffer a
        streamed body for replay, other methods don't; False sends it straight through."""
        return default_request_mode(request.method)

    def should_retry_response(self, request: _Req, response: _Resp | Exception) -> bool:
        """Whether an outcome is retried: connection errors always; for idempotent methods
        other errors, 429 and 5xx except 501."""
        if isinstance(response, Exception):
            return default_should_retry(request.method, None, response)
        return default_should_retry(request.method, response.status, None)

    def _budget(self) -> RetryBudget:
        return RetryBudget(
            _Backoff(self._initial_interval, self._randomization_factor, self._multiplier,
                     self._max_interval),
            self._max_retries,
        )

    def _retry(self, budget: RetryBudget, request: _Req, outcome: _Resp | Exception,
               unbuffered_pulled: bool | None) -> float | None:
        """The wait before the next try, None to hand `outcome` back (see RetryBudget)."""
        return budget.wait_before_retry(
            outcome,
            resendable(unbuffered_pulled, outcome)
            and self.should_retry_response(request, outcome),
        )


END = object()  # Recording.recorded: nothing more will come


class Recording:
    """The I/O-free half of a BUFFERED stream body: the chunks kept for replay, and when the
    source may be closed (once no more tries will come and no replay is running)."""

    __slots__ = ("_active", "_chunks", "_final", "exhausted")

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self.exhausted = False
        self._active = False
        self._final = False

    def recorded(self, i: int) -> bytes | object | None:
        """Chunk `i` if kept; END past the end of the source; None: pull one more."""
        if i < len(self._chunks):
            return self._chunks[i]
        return END if self.exhausted else None

    def keep(self, chunk: bytes) -> bytes:
        if isinstance(chunk, (bytearray, memoryview)):
            chunk = bytes(chunk)  # a reused buffer must not change under us
        self._chunks.append(chunk)
        return chunk

    def start(self) -> None:
        self._active = True

    def stop(self) -> bool:
        """A replay ended; True: close the source now."""
        self._active = False
        return self._final

    def finish(self) -> bool:
        """No more tries; True: close the source now (else the running replay will)."""
        self._final = True
        return not self._active
