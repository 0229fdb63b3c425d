"""Retrying transports (API.md §3.6): `RetryTransport` wraps a `Transport` and retries failed
exchanges with exponential backoff, honouring `Retry-After` on 429."""

from ._async import RetryTransport
from ._shared import RetryMode

__all__ = ["RetryMode", "RetryTransport"]
