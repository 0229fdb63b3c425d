"""In-process transports for tests: call an ASGI or WSGI app without a network (API.md §3.2,
§3.3)."""

from ._asgi import ASGITransport
from ._wsgi import WSGIConnectionError, WSGITimeoutError, WSGITransport

__all__ = ["ASGITransport", "WSGIConnectionError", "WSGITimeoutError", "WSGITransport"]
