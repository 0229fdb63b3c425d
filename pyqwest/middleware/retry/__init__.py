"""Retrying transports (API.md §3.6): `RetryTransport` wraps a `Transport`, `SyncRetryTransport`
a `SyncTransport`; failed exchanges are retried with exponential backoff, honouring
`Retry-After` on 429."""

from ._async import RetryTransport
from ._shared import RetryMode
from ._sync import SyncRetryTransport

__all__ = ["RetryMode", "RetryTransport", "SyncRetryTransport"]
