"""H3Stream: one request/response exchange on an HTTP/3 connection.

The exchange logic of a multiplexed stream (head, body pieces for the consumer, trailers,
resets, timeouts, the upload pump, error classes) is the HTTP/2 stream's, shared by
subclassing; only the wire calls differ. QUIC's own flow control (qh3) paces the bytes on the
wire; a streamed body waits while more than `SEND_HIGH_WATER` bytes of it are queued unsent
or unacknowledged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cpqwest._errors import WriteError

from .._h2.errors import mapped
from .._h2.stream import H2Stream, StopUpload
from .errors import h3_code

if TYPE_CHECKING:
    from .connection import H3Connection

SEND_HIGH_WATER = 1 << 20


class H3Stream(H2Stream):
    """A request stream of an `H3Connection` (the consumer interface is H2Stream's)."""

    __slots__ = ()
    conn: H3Connection  # type: ignore[assignment]

    def _ack(self) -> None:
        """Nothing to do: qh3 grants QUIC stream credit itself."""

    def _reset(self, code: int) -> None:
        conn = self.conn
        self._closed_by_h2()
        if not conn.closed:
            conn.core.reset(self.id, h3_code(code))
            conn.flush_soon()

    def _peer_stopped_reading(self) -> None:
        """STOP_SENDING: the server wants no more of the body; its response may still come."""
        self._stop_upload()
        if not self.sent_end:
            self._sent_request()

    def _send_body(self, body: bytes) -> None:
        self.conn.core.send_data(self.id, body, True)
        self._sent_request()

    async def send(self, data: bytes | bytearray | memoryview) -> None:
        """Queue one piece of a streamed body, first waiting while too much is in flight."""
        conn = self.conn
        core = conn.core
        sid = self.id
        while True:
            if self.error is not None:
                raise mapped(self.error, "Request failed: ", WriteError)
            if self._h2_closed or conn.closed:
                raise StopUpload
            if core.buffered(sid) < SEND_HIGH_WATER:
                break
            w = self._send_waiter = conn.loop.create_future()
            conn._blocked.add(self)
            await w
        if not core.send_data(sid, data, False):
            raise StopUpload  # closing: the stream fails with the connection
        conn.flush_soon()

    def end_request(self) -> None:
        if self._h2_closed or self.sent_end:
            return
        self.conn.core.send_data(self.id, b"", True)
        self.conn.flush_soon()
        self._sent_request()
