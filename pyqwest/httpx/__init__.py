"""httpx transports backed by pyqwest: `httpx.AsyncClient(transport=AsyncPyqwestTransport(t))`
(API.md §3.1). Needs httpx installed."""

from ._transport import AsyncPyqwestTransport

__all__ = ["AsyncPyqwestTransport"]
