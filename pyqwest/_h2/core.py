"""The sans-IO half of an HTTP/2 stream and connection that both drivers share: the windows and
batches of flow control, our SETTINGS, and `StreamState`, a stream's response as h2's events
build it (head checks, body pieces, the RST_STREAM and GOAWAY rules of API.md §0). The asyncio
driver (connection.py, stream.py) and the blocking one (pyqwest._sync_h2) add only waiting,
waking and the socket."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import h2.settings

from cpqwest._errors import RemoteProtocolError
from cpqwest._h2fields import MAX_HEAD_BYTES, Malformed, response_fields
from cpqwest._stamps import Stamps

if TYPE_CHECKING:
    from cpqwest._pool import RouteStats
    from pyqwest._timings import Setup

    class _Stamped(Protocol):
        setup: Setup | None
        stats: RouteStats | None

from .errors import NOT_RESENDABLE, REFUSED_STREAM, UNPROCESSED, reason, stream_error

# Receive windows: the connection's is raised at once; streams' via SETTINGS.
CONN_WINDOW = 16 << 20
STREAM_WINDOW = 4 << 20
# Connection window updates are sent in batches of at least this much received data.
CONN_ACK_BATCH = CONN_WINDOW // 4
# Window updates for a stream are sent in batches of at least this much consumed data.
STREAM_ACK_BATCH = 1 << 20
# The largest frame we accept (the peer may send smaller ones).
MAX_FRAME_SIZE = 1 << 18
# Bytes one socket read may bring, into a buffer each connection keeps (asyncio's read size).
READ_SIZE = 1 << 18
# Our SETTINGS.
SETTINGS = {
    h2.settings.SettingCodes.ENABLE_PUSH: 0,
    h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
    h2.settings.SettingCodes.MAX_FRAME_SIZE: MAX_FRAME_SIZE,
    h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: MAX_HEAD_BYTES,
}


def unprocessed_error(code: int) -> RemoteProtocolError:
    """The failure of a stream above a GOAWAY's last-stream-id (it may go again)."""
    return RemoteProtocolError(
        f"connection error received: {reason(code)} (GOAWAY, stream not processed)"
    )


def next_stamps(conn: _Stamped) -> Stamps:
    """The stamps of a stream h2 just took on `conn`: the first stream on a connection reports
    its setup (response.timings); each later one counts a reuse (pool statistics)."""
    setup = conn.setup
    if setup is None:
        if conn.stats is not None:
            conn.stats.reused += 1
    else:
        conn.setup = None
    return Stamps(setup)


class StreamState:
    """A stream's response as h2's events build it, and what its request has sent; the
    drivers' streams add waiting and waking on top."""

    __slots__ = (
        "_body",
        "_unacked",
        "body_size",
        "error",
        "got_bytes",
        "head_done",
        "headers",
        "id",
        "message_done",
        "recv_end",
        "resend",
        "sent_end",
        "stamps",
        "status",
        "trailers",
    )

    def __init__(self, stream_id: int, stamps: Stamps) -> None:
        self.id = stream_id
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.trailers: list[tuple[str, str]] | None = None
        self._body: list[bytes] = []
        self.body_size = 0
        self._unacked = 0  # consumed bytes not yet credited back to the stream's window
        self.head_done = False
        self.message_done = False
        self.got_bytes = False
        self.sent_end = False
        self.recv_end = False
        self.resend = NOT_RESENDABLE  # why it may go again once it failed (errors.may_resend)
        self.error: BaseException | None = None
        self.stamps = stamps  # when it happened (response.timings)

    def take_head(self, raw: list[tuple[bytes, bytes]]) -> str | None:
        """Take the response head; what is wrong with it (then nothing was taken), or None."""
        try:
            self.status, self.headers = response_fields(raw, True)
        except Malformed as exc:
            return str(exc)
        self.got_bytes = True
        self.stamps.stamp_first()
        self.head_done = True
        return None

    def take_trailers(self, raw: list[tuple[bytes, bytes]]) -> str | None:
        """Take the trailers; what is wrong with them, or None."""
        try:
            self.trailers = response_fields(raw, False)[1]
        except Malformed as exc:
            return str(exc)
        return None

    def take_body(self) -> bytes:
        """The body received so far, as one piece (the caller checked `body_size`)."""
        body = self._body
        chunk = body[0] if len(body) == 1 else b"".join(body)
        self._body = []
        self.body_size = 0
        return chunk

    def reset_error(self, code: int) -> BaseException | None:
        """RST_STREAM(`code`) from the peer: the stream's failure, or None when it is a normal
        end of the body (NO_ERROR after the head, RFC 9113 §8.1). REFUSED_STREAM before any
        response byte may go again."""
        if code == 0 and self.head_done:
            return None
        if code == REFUSED_STREAM and not self.got_bytes:
            self.resend = UNPROCESSED
        return stream_error(code)

    def unprocessed(self, code: int) -> BaseException:
        """Above a GOAWAY's last-stream-id: never processed, it may go again."""
        self.resend = UNPROCESSED
        return unprocessed_error(code)
