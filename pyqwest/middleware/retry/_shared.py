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


_T = TypeVar("_T")


class RetryOptions(Generic[_T]):
    """The options of RetryTransport and SyncRetryTransport: the wrapped transport and the
    backoff; each request gets a fresh `RetryBudget` from them."""

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

    def _budget(self) -> RetryBudget:
        return RetryBudget(
            _Backoff(self._initial_interval, self._randomization_factor, self._multiplier,
                     self._max_interval),
            self._max_retries,
        )
