"""pyqwest: a fast async HTTP client, compiled with Cython over llhttp.

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
from ._request import Request
from ._response import FullResponse, Response
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
    "ReadError",
    "RemoteProtocolError",
    "Request",
    "Response",
    "StreamError",
    "StreamErrorCode",
    "SyncMultipart",
    "SyncPart",
    "TooManyRedirects",
    "Transport",
    "WriteError",
    "get_default_transport",
]
