"""Exit codes (curl's where the failure classes overlap) and the one-line message per failure."""

from __future__ import annotations

import socket
import ssl
from enum import IntEnum

from cpqwest._errors import ReadError, RemoteProtocolError, TooManyRedirects, WriteError


class Exit(IntEnum):
    """The command's exit statuses; the numbers are curl's ``CURLE_*`` codes."""

    OK = 0
    UNSUPPORTED_PROTOCOL = 1
    USAGE = 2
    URL_MALFORMAT = 3
    COULDNT_RESOLVE_HOST = 6
    COULDNT_CONNECT = 7
    WEIRD_SERVER_REPLY = 8
    HTTP_RETURNED_ERROR = 22
    WRITE_ERROR = 23
    READ_ERROR = 26  # a local file (-d @file, --cacert, ...) could not be read
    OPERATION_TIMEDOUT = 28
    SSL_CONNECT_ERROR = 35
    TOO_MANY_REDIRECTS = 47
    SEND_ERROR = 55
    RECV_ERROR = 56
    SSL_CERTPROBLEM = 58  # --cert/--key unusable
    PEER_FAILED_VERIFICATION = 60
    SSL_CACERT_BADFILE = 77  # --cacert holds no usable root


class Failure(Exception):
    """A failure the command reports as ``pyqwest: (code) message`` and exits with."""

    def __init__(self, code: Exit, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"({int(self.code)}) {self.message}"


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and its ``__cause__``/``__context__`` chain, outermost first."""
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in chain:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    return chain


def classify(exc: BaseException) -> Failure:
    """The exit code and message for an exception raised by a request (first match wins)."""
    if isinstance(exc, Failure):
        return exc
    chain = _causes(exc)
    message = str(exc) or type(exc).__name__
    if isinstance(exc, TooManyRedirects):
        return Failure(Exit.TOO_MANY_REDIRECTS, message)
    if isinstance(exc, TimeoutError):  # ConnectTimeout included, as curl's 28 covers both
        return Failure(Exit.OPERATION_TIMEDOUT, message or "Operation timed out")
    if isinstance(exc, ConnectionError):
        if any(isinstance(c, ssl.SSLCertVerificationError) for c in chain):
            return Failure(Exit.PEER_FAILED_VERIFICATION, message)
        if any(isinstance(c, ssl.SSLError) for c in chain):
            return Failure(Exit.SSL_CONNECT_ERROR, message)
        # a name that resolves to nothing, or that no DNS query can carry (UnicodeError)
        if any(isinstance(c, socket.gaierror | UnicodeError) for c in chain):
            return Failure(Exit.COULDNT_RESOLVE_HOST, message)
        return Failure(Exit.COULDNT_CONNECT, message)
    if isinstance(exc, RemoteProtocolError):
        return Failure(Exit.WEIRD_SERVER_REPLY, message)
    if isinstance(exc, WriteError):
        return Failure(Exit.SEND_ERROR, message)
    if isinstance(exc, ReadError):
        return Failure(Exit.RECV_ERROR, message)
    if isinstance(exc, ValueError) and (
        "HTTP/3" in message or (message.startswith("Invalid URL") and "scheme" in message)
    ):  # HTTP/3 without its extra, or ftp:// and the like
        return Failure(Exit.UNSUPPORTED_PROTOCOL, message)
    if isinstance(exc, ValueError) and message.startswith(("tls_ca_cert", "Failed to parse CA")):
        return Failure(Exit.SSL_CACERT_BADFILE, message)
    if isinstance(exc, ValueError) and ("tls_cert" in message or "tls_key" in message):
        return Failure(Exit.SSL_CERTPROBLEM, message)
    if isinstance(exc, ValueError) and message.startswith("Invalid URL"):
        return Failure(Exit.URL_MALFORMAT, message)
    if isinstance(exc, ValueError | TypeError):
        return Failure(Exit.USAGE, message)
    if isinstance(exc, OSError):  # writing the output (stdout, -o FILE)
        return Failure(Exit.WRITE_ERROR, message)
    return Failure(Exit.RECV_ERROR, f"{type(exc).__name__}: {message}")
