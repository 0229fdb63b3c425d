"""pyqwest: a fast async and sync HTTP client, compiled with Cython over llhttp.

A drop-in for the original pyqwest's API (see the README for what is there today).
"""

from cpqwest._errors import (
    ConnectTimeout,
    ReadError,
    RemoteProtocolError,
    StreamError,
    StreamErrorCode,
    TooManyRedirects,
    WriteError,
)

from ._client import Client
from ._headers import Headers, HTTPHeaderName
from ._multipart import Multipart, Part, SyncMultipart, SyncPart
from ._pool_stats import PoolStats
from ._proxy import Proxy
from ._request import Request
from ._response import FullResponse, Response
from ._sync_client import SyncClient
from ._sync_http import SyncHTTPTransport, get_default_sync_transport
from ._sync_request import SyncRequest
from ._sync_response import SyncResponse
from ._sync_transport import SyncTransport
from ._timings import Timings
from ._transport import HTTPTransport, Transport, get_default_transport
from ._version import HTTPVersion

__all__ = [
    "Client",
    "ConnectTimeout",
    "FullResponse",
    "HTTPHeaderName",
    "HTTPTransport",
    "HTTPVersion",
    "Headers",
    "Multipart",
    "Part",
    "PoolStats",
    "Proxy",
    "ReadError",
    "RemoteProtocolError",
    "Request",
    "Response",
    "StreamError",
    "StreamErrorCode",
    "SyncClient",
    "SyncHTTPTransport",
    "SyncMultipart",
    "SyncPart",
    "SyncRequest",
    "SyncResponse",
    "SyncTransport",
    "Timings",
    "TooManyRedirects",
    "Transport",
    "WriteError",
    "get_default_sync_transport",
    "get_default_transport",
]
