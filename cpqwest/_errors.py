"""The exception classes of the public API (spec §1.1).

A leaf module: the compiled core raises these and `pyqwest` re-exports them, so it imports
nothing of ours. It also holds the one mapping of a failure (phase x cause) to the spec's class
and message that every driver calls.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from enum import IntEnum

__all__ = [
    "ConnectTimeout",
    "ReadError",
    "RemoteProtocolError",
    "StreamError",
    "StreamErrorCode",
    "TooManyRedirects",
    "WriteError",
    "body_error",
    "classify",
    "connect_error",
    "connecting",
    "exchange_error",
    "read_error",
    "write_error",
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


# --- the one classifier (API.md §1.1): every driver, async or sync, HTTP/1.1 or HTTP/2 ---------

REQUEST_FAILED = "Request failed: "
READ_FAILED = "Error reading content: "
FULL_READ_FAILED = "Error reading full content: "


def classify(cause: BaseException, prefix: str, default_cls: type[Exception]) -> BaseException:
    """The spec's class and message for a failure; the original is the __cause__. Our own
    Read/WriteError pass through; resets, timeouts, framing errors and plain ConnectionErrors
    keep their class; anything else becomes `default_cls`."""
    if isinstance(cause, (ReadError, WriteError)):
        return cause
    text = str(cause) or type(cause).__name__
    if not text.startswith(prefix):
        text = prefix + text
    exc: BaseException
    if isinstance(cause, StreamError):
        exc = StreamError(text, cause.code)
    elif isinstance(cause, TimeoutError):
        exc = TimeoutError(text)
    elif isinstance(cause, RemoteProtocolError):
        exc = RemoteProtocolError(text)
    elif type(cause) is ConnectionError:
        exc = ConnectionError(text)
    else:
        exc = default_cls(text)
    exc.__cause__ = cause
    return exc


def exchange_error(
    cause: BaseException, head_done: bool, buffered: bool, request_sent: bool
) -> BaseException:
    """The error for an exchange that failed before its response completed, by phase: a
    buffered body being read, the request being written, or the response awaited."""
    if head_done and buffered:
        return classify(cause, FULL_READ_FAILED, ReadError)
    return classify(cause, REQUEST_FAILED, ReadError if request_sent else WriteError)


def read_error(cause: BaseException) -> BaseException:
    """The error for a failure while a streamed body is read."""
    return classify(cause, READ_FAILED, ReadError)


def write_error(cause: BaseException) -> BaseException:
    """The error for a failure while the request is written."""
    return classify(cause, REQUEST_FAILED, WriteError)


def body_error(cause: BaseException) -> BaseException:
    """The error for a streamed request body whose iterator raised or gave a piece that is
    not bytes: always WriteError (spec §1.3), whatever the iterator's exception was."""
    if isinstance(cause, WriteError):
        return cause
    exc = WriteError(f"{REQUEST_FAILED}{cause}")
    exc.__cause__ = cause
    return exc


def connect_error(
    cause: BaseException, host: str, port: int, protocol: str = "HTTP/2"
) -> BaseException | None:
    """The error for a failure while connecting (DNS, TCP, TLS, the HTTP/2 preface, the QUIC
    handshake); None when `cause` is not a connection failure (it propagates as it is)."""
    exc: BaseException
    if isinstance(cause, TimeoutError):
        exc = ConnectTimeout(f"{REQUEST_FAILED}connection to {host}:{port} timed out")
        exc.__suppress_context__ = True
        return exc
    if isinstance(cause, ssl.SSLError):
        exc = ConnectionError(f"{REQUEST_FAILED}TLS handshake with {host}: {cause}")
    elif isinstance(cause, OSError):
        exc = ConnectionError(f"{REQUEST_FAILED}connecting to {host}:{port}: {cause}")
    elif isinstance(cause, RemoteProtocolError):
        exc = RemoteProtocolError(
            f"{REQUEST_FAILED}{protocol} connection to {host}:{port}: {cause}"
        )
    else:
        return None
    exc.__cause__ = cause
    return exc


@contextlib.contextmanager
def connecting(host: str, port: int, protocol: str = "HTTP/2") -> Iterator[None]:
    """Raise what `connect_error` makes of a failure while connecting to host:port."""
    try:
        yield
    except (OSError, RemoteProtocolError) as exc:
        # OSError covers timeouts (TimeoutError) and TLS failures (ssl.SSLError)
        err = connect_error(exc, host, port, protocol)
        if err is None:
            raise
        raise err from err.__cause__
