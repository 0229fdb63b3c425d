"""The exception classes of the public API (spec §1.1).

A leaf module: the compiled core raises these and `pyqwest` re-exports them, so it imports
nothing of ours.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "ConnectTimeout",
    "ReadError",
    "RemoteProtocolError",
    "StreamError",
    "StreamErrorCode",
    "TooManyRedirects",
    "WriteError",
]


class ReadError(Exception):
    """Failure receiving the response body."""


class WriteError(Exception):
    """Failure sending the request."""


class TooManyRedirects(Exception):
    """More redirects than `max_redirects`."""


class ConnectTimeout(ConnectionError, TimeoutError):
    """`connect_timeout` expired while connecting."""


class RemoteProtocolError(Exception):
    """The peer broke HTTP framing."""


class StreamErrorCode(IntEnum):
    """HTTP/2 error codes (RFC 9113 §7) a stream reset carries; unknown codes are INTERNAL_ERROR."""

    NO_ERROR = 0
    PROTOCOL_ERROR = 1
    INTERNAL_ERROR = 2
    FLOW_CONTROL_ERROR = 3
    SETTINGS_TIMEOUT = 4
    STREAM_CLOSED = 5
    FRAME_SIZE_ERROR = 6
    REFUSED_STREAM = 7
    CANCEL = 8
    COMPRESSION_ERROR = 9
    CONNECT_ERROR = 10
    ENHANCE_YOUR_CALM = 11
    INADEQUATE_SECURITY = 12
    HTTP_1_1_REQUIRED = 13

    @classmethod
    def _missing_(cls, value: object) -> StreamErrorCode:
        # unknown codes from the wire map to INTERNAL_ERROR (spec §1.1)
        return cls.INTERNAL_ERROR


class StreamError(RemoteProtocolError):
    """An HTTP/2 stream reset by the peer."""

    def __init__(self, message: str, code: StreamErrorCode | int) -> None:
        super().__init__(message)
        self.code = StreamErrorCode(code)
