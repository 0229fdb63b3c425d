"""httpx transports backed by pyqwest (API.md §3.1): `httpx.AsyncClient(transport=
AsyncPyqwestTransport(t))` over a `Transport`, `httpx.Client(transport=PyqwestTransport(t))`
over a `SyncTransport`. Needs httpx installed."""

from ._transport import AsyncPyqwestTransport, PyqwestTransport

__all__ = ["AsyncPyqwestTransport", "PyqwestTransport"]
