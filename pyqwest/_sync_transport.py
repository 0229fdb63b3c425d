"""SyncTransport, the protocol SyncClient executes requests with (spec §1.11, §2)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ._sync_request import SyncRequest
from ._sync_response import SyncResponse


@runtime_checkable
class SyncTransport(Protocol):
    """Executes sync requests; implement it to mock or wrap (middleware) the HTTP transport."""

    def execute_sync(self, request: SyncRequest) -> SyncResponse:
        """Execute `request`; the response is returned once its head arrived."""
        ...
