"""HTTP/2 on top of the h2 library: a connection protocol, its streams, per-loop pools.

One `H2Connection` (an `asyncio.Protocol`) per origin carries many concurrent streams. Each
read is handed to h2 at once; the events it returns are dispatched to the `H2Stream`s, and
whatever h2 wants to send (acks, window updates) goes out in one `transport.write` at the end
of that read. Frames produced outside a read (new requests, resets, body data) are flushed once
per event-loop iteration, so requests started together share one write.

Flow control: the connection window is raised to `CONN_WINDOW` and connection-level data is
acknowledged as it arrives, so one slow stream never stalls the others; each stream's window
(`STREAM_WINDOW`) is acknowledged as its consumer takes the data, and not at all while more
than `READ_HIGH_WATER` bytes of it sit unread: a slow consumer stalls only its own stream.

`H2Stream` offers the body-consumer interface `_WireContent` uses on an HTTP/1.1 connection
(`take_chunk`, `wait_chunk`, `release`, `abort`, `parser.trailers`...), so an HTTP/2 response
goes through the same `Response` code path.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import hpack
import hpack.table

from cpqwest._errors import ReadError, RemoteProtocolError, StreamError, WriteError
from cpqwest._hpack import Decoder as HPACKDecoder
from cpqwest._protocol import WAIT

__all__ = ["H2Connection", "H2Pools", "H2Stream", "request_headers"]

# Receive windows: the connection's is raised at once; streams' via SETTINGS.
CONN_WINDOW = 16 << 20
STREAM_WINDOW = 4 << 20
# Window updates are sent in batches of at least this much consumed data.
CONN_ACK_BATCH = CONN_WINDOW // 4
STREAM_ACK_BATCH = 1 << 20
# A stream with more unread data than this gets no window updates until its consumer reads.
READ_HIGH_WATER = 1 << 20
# The largest frame we accept (the peer may send smaller ones).
MAX_FRAME_SIZE = 1 << 18
# Response head limits, as on HTTP/1.1 (spec §0).
MAX_HEADER_FIELDS = 100
MAX_HEAD_BYTES = 256 << 10
# Flush queued body data once this much is waiting, even mid-chunk.
WRITE_BATCH = 1 << 18

# Connection-specific headers HTTP/2 forbids (RFC 9113 §8.2.2); hyper strips them too.
_CONNECTION_HEADERS = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}
)

_SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})

# The h2 crate's texts for each error code (what reqwest shows).
_REASONS = {
    0: "not a result of an error",
    1: "unspecific protocol error detected",
    2: "unexpected internal error encountered",
    3: "flow-control protocol violated",
    4: "settings ACK not received in timely manner",
    5: "received frame when stream half-closed",
    6: "frame with invalid size",
    7: "refused stream before processing any application logic",
    8: "stream no longer needed",
    9: "unable to maintain the header compression context",
    10: "connection established in response to a CONNECT request was reset or abnormally "
    "closed",
    11: "detected excessive load generating behavior",
    12: "security properties do not meet minimum requirements",
    13: "endpoint requires HTTP/1.1",
}
_CANCEL = 8
_PROTOCOL_ERROR = 1
_INTERNAL_ERROR = 2
_REFUSED_STREAM = 7

_DataReceived = h2.events.DataReceived
_ResponseReceived = h2.events.ResponseReceived
_StreamEnded = h2.events.StreamEnded
_TrailersReceived = h2.events.TrailersReceived
_WindowUpdated = h2.events.WindowUpdated
_StreamReset = h2.events.StreamReset
_RemoteSettingsChanged = h2.events.RemoteSettingsChanged
_ConnectionTerminated = h2.events.ConnectionTerminated
_RECV_GOAWAY = h2.connection.ConnectionInputs.RECV_GOAWAY
_CLOSED = h2.connection.ConnectionState.CLOSED


class _StateMachine(h2.connection.H2ConnectionStateMachine):
    """h2's connection state machine, except that after a GOAWAY from the server the frames
    of the streams it still processes are accepted (h2 refuses every frame after one), even
    when they come in the same read as the GOAWAY."""

    goaway_received = False

    def process_input(self, input_: h2.connection.ConnectionInputs) -> list[h2.events.Event]:
        if input_ is _RECV_GOAWAY:
            self.goaway_received = True
        elif self.goaway_received and self.state is _CLOSED:
            return []
        return super().process_input(input_)


_CONFIG = h2.config.H2Configuration(
    client_side=True,
    header_encoding=None,
    # request headers come from validated, lower-cased Headers; request_headers() does the rest
    validate_outbound_headers=False,
    normalize_outbound_headers=False,
    # checked by _fields() instead, at a fraction of the cost
    validate_inbound_headers=False,
    normalize_inbound_headers=False,
)


class _VersionedTable(hpack.table.HeaderTable):
    """An HPACK dynamic table that counts its changes."""

    version = 0

    def add(self, name: bytes, value: bytes) -> None:
        self.version += 1
        super().add(name, value)

    @property
    def maxsize(self) -> int:
        return self._maxsize

    @maxsize.setter
    def maxsize(self, newmax: int) -> None:
        self.version += 1
        hpack.table.HeaderTable.maxsize.fset(self, newmax)  # type: ignore[attr-defined]


# HPACK coding in Python costs more than everything else in a small exchange. Decoding is
# done in C (cpqwest._hpack); request header blocks mostly repeat, and a block's coding
# depends on the dynamic table, so the encoder remembers the results of runs that left the
# table as it was, keyed by its version.
_CODER_CACHE_MAX = 256
_CACHE_BLOCK_MAX = 2048


class _CachingEncoder(hpack.Encoder):
    def __init__(self) -> None:
        super().__init__()
        self.header_table = _VersionedTable()
        self._cache: dict[Any, tuple[int, bytes]] = {}

    def encode(self, headers: Any, huffman: bool = True) -> bytes:
        table = self.header_table
        assert isinstance(table, _VersionedTable)
        key = (tuple(headers), huffman)
        hit = self._cache.get(key)
        version = table.version
        if hit is not None and hit[0] == version and not table.resized:
            return hit[1]
        pending = table.resized
        block = super().encode(key[0], huffman)
        if table.version == version and not pending and len(block) <= _CACHE_BLOCK_MAX:
            cache = self._cache
            if len(cache) >= _CODER_CACHE_MAX:
                cache.clear()
            cache[key] = (version, block)
        return block


class _H2State(h2.connection.H2Connection):
    """h2's connection, except that it does not walk every stream for each new one."""

    _sweep_at = 64

    @property
    def open_outbound_streams(self) -> int:
        # h2 asks on each new stream, and its count walks (and sweeps) the whole stream table:
        # O(n) per request. H2Connection enforces the peer's limit itself; h2 sweeps its
        # closed streams here once the table has doubled since the last time.
        streams = self.streams
        if len(streams) < self._sweep_at:
            return 0
        count = self._open_streams(1)
        self._sweep_at = 2 * max(len(streams), 32)
        return count


def _reason(code: int) -> str:
    return _REASONS.get(code, f"unknown error code {code}")


def _stream_error(code: int) -> StreamError:
    return StreamError(f"stream error received: {_reason(code)}", code)


def _mapped(cause: BaseException, prefix: str, default_cls: type[Exception]) -> BaseException:
    """The spec's class and message for a failure (API.md §1.1); `cause` is the __cause__."""
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
    else:
        exc = default_cls(text)
    exc.__cause__ = cause
    return exc


def request_headers(
    method: str,
    scheme: str,
    authority: str,
    path: str,
    pairs: list[tuple[str, str]] | None,
    is_json: bool,
    body_len: int,
    accept_encoding: str | None,
) -> list[tuple[str, str]]:
    """The HTTP/2 header list of a request. `pairs`: validated, lower-case (name, value) pairs.

    Connection-specific headers are dropped, `te` is kept only as "trailers", a `host` header
    becomes `:authority`. body_len < 0: no content-length is added.
    """
    out = [(":method", method), (":scheme", scheme), (":authority", authority), (":path", path)]
    has_accept = has_ae = has_ct = has_len = False
    if pairs:
        for pair in pairs:
            name = pair[0]
            if name in _CONNECTION_HEADERS:
                continue
            if name == "host":
                out[2] = (":authority", pair[1])
                continue
            if name == "te":
                if pair[1].strip().lower() != "trailers":
                    continue
            elif name == "accept":
                has_accept = True
            elif name == "accept-encoding":
                has_ae = True
            elif name == "content-type":
                has_ct = True
            elif name == "content-length":
                has_len = True
            elif name in _SENSITIVE_HEADERS:
                # kept out of the HPACK tables (as hyper does for sensitive values)
                pair = hpack.NeverIndexedHeaderTuple(name, pair[1])  # type: ignore[assignment]
            out.append(pair)
    if not has_accept:
        out.append(("accept", "*/*"))
    if accept_encoding is not None and not has_ae:
        out.append(("accept-encoding", accept_encoding))
    if is_json and not has_ct:
        out.append(("content-type", "application/json"))
    if body_len >= 0 and not has_len:
        out.append(("content-length", str(body_len)))
    return out


class _Malformed(Exception):
    pass


_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+").fullmatch
_BAD_VALUE = re.compile(rb"[\x00\r\n]").search
_FORBIDDEN_FIELDS = frozenset(name.encode() for name in _CONNECTION_HEADERS)


def _fields(raw: list[tuple[bytes, bytes]], head: bool) -> tuple[int, list[tuple[str, str]]]:
    """Status and (name, value) pairs of a response head (or trailers, `head` False), checked
    as RFC 9113 §8.2 wants (h2's own inbound validation is off: it costs more than all the
    rest of a response)."""
    status = -1
    pairs: list[tuple[str, str]] = []
    append = pairs.append
    size = 0
    for name, value in raw:
        if name[:1] == b":":
            if not head or pairs or name != b":status" or status >= 0:
                raise _Malformed(f"unexpected pseudo-header field {name!r}")
            if len(value) != 3 or not value.isdigit():
                raise _Malformed(f"invalid :status {value!r}")
            status = int(value)
            continue
        if _TOKEN(name) is None or _BAD_VALUE(value) is not None or name in _FORBIDDEN_FIELDS:
            raise _Malformed(f"invalid header field {name!r}")
        size += len(name) + len(value)
        append((name.decode("latin-1"), value.decode("latin-1")))
    if head and status < 0:
        raise _Malformed("response without :status")
    if len(pairs) > MAX_HEADER_FIELDS:
        raise _Malformed(f"more than {MAX_HEADER_FIELDS} header fields")
    if size > MAX_HEAD_BYTES:
        raise _Malformed(f"response head larger than {MAX_HEAD_BYTES} bytes")
    return status, pairs


class H2Stream:
    """One request/response exchange on an `H2Connection`.

    For the response's consumer it looks like an HTTP/1.1 connection positioned after the
    response head: `take_chunk()`, `wait_chunk()`, `release()`, `abort(exc)`, and `parser`
    (itself) with `trailers`, `message_done` and `body_size`.
    """

    __slots__ = (
        "_body",
        "_body_waiter",
        "_buffered",
        "_deadline",
        "_h2_closed",
        "_last_read",
        "_read_timeout",
        "_read_timer",
        "_send_waiter",
        "_unacked",
        "_waiter",
        "body_size",
        "conn",
        "error",
        "got_bytes",
        "head_done",
        "headers",
        "id",
        "message_done",
        "recv_end",
        "retryable",
        "sent_end",
        "status",
        "trailers",
        "upload_task",
    )

    def __init__(self, conn: H2Connection, stream_id: int, buffered: bool) -> None:
        self.conn = conn
        self.id = stream_id
        self._buffered = buffered
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.trailers: list[tuple[str, str]] | None = None
        self._body: list[bytes] = []
        self.body_size = 0
        self.head_done = False
        self.message_done = False
        self.got_bytes = False
        self.sent_end = False
        self.recv_end = False
        self._h2_closed = False
        self.retryable = False  # failed in a way the server never processed (GOAWAY, refused)
        self.error: BaseException | None = None
        self._waiter: asyncio.Future[Any] | None = conn.loop.create_future()
        self._body_waiter: asyncio.Future[None] | None = None
        self._send_waiter: asyncio.Future[None] | None = None
        self._unacked = 0
        self._deadline: asyncio.TimerHandle | None = None
        self._read_timer: asyncio.TimerHandle | None = None
        self._read_timeout = -1.0
        self._last_read = 0.0
        self.upload_task: asyncio.Task[None] | None = None

    # --- for _WireContent -----------------------------------------------------------------
    @property
    def parser(self) -> H2Stream:
        return self

    def take_chunk(self) -> bytes | object | None:
        """The next body piece, None at the end, WAIT if none is ready; raises the failure."""
        if self.body_size:
            body = self._body
            chunk = body[0] if len(body) == 1 else b"".join(body)
            self._body = []
            self.body_size = 0
            if self._unacked >= STREAM_ACK_BATCH and not self.recv_end:
                self._ack()
                self.conn.flush_soon()
            return chunk
        if self.error is not None:
            raise _mapped(self.error, "Error reading content: ", ReadError)
        if self.message_done:
            return None
        return WAIT

    def wait_chunk(self) -> asyncio.Future[None]:
        w = self._body_waiter
        if w is None:
            w = self._body_waiter = self.conn.loop.create_future()
        return w

    def release(self) -> None:
        """The consumer is done with the response: a stream still open is cancelled."""
        self._cancel_timers()
        self._stop_upload()
        if not self._h2_closed:
            self._reset(_CANCEL)

    def abort(self, exc: BaseException | None = None) -> None:
        """Give up on this exchange (cancelled, closed unread): RST_STREAM(CANCEL), the
        connection stays up for the others."""
        if exc is not None and self.error is None:
            self.error = exc
        self._cancel_timers()
        self._stop_upload()
        if not self._h2_closed:
            self._reset(_CANCEL)
        if exc is not None:
            self._wake(exc)

    # --- events from the connection ---------------------------------------------------------
    def _on_head(self, raw: list[tuple[bytes, bytes]]) -> None:
        try:
            status, pairs = _fields(raw, True)
        except _Malformed as exc:
            self._fail_protocol(str(exc))
            return
        self.got_bytes = True
        self.status = status
        self.headers = pairs
        self.head_done = True
        if self._read_timeout >= 0:
            self._last_read = self.conn.loop.time()
        if not self._buffered:
            w = self._waiter
            self._waiter = None
            if w is not None and not w.done():
                w.set_result(None)

    def _on_data(self, data: bytes, flow_len: int) -> None:
        if data:
            self._body.append(data)
            self.body_size += len(data)
        self._unacked += flow_len
        if self._read_timeout >= 0:
            self._last_read = self.conn.loop.time()
        if self._buffered:
            if self._unacked >= STREAM_ACK_BATCH:
                self._ack()
            return
        if self._unacked >= STREAM_ACK_BATCH and self.body_size <= READ_HIGH_WATER:
            self._ack()
        w = self._body_waiter
        if w is not None:
            self._body_waiter = None
            if not w.done():
                w.set_result(None)

    def _on_trailers(self, raw: list[tuple[bytes, bytes]]) -> None:
        try:
            self.trailers = _fields(raw, False)[1]
        except _Malformed as exc:
            self._fail_protocol(str(exc))

    def _on_end(self) -> None:
        self.recv_end = True
        if self.sent_end:
            self._closed_by_h2()
        self._complete()

    def _complete(self) -> None:
        """The response is complete (END_STREAM, or a NO_ERROR reset after the head)."""
        self.message_done = True
        self._cancel_timers()
        w = self._waiter
        self._waiter = None
        if self._buffered:
            if w is not None and not w.done():
                body = self._body
                data = body[0] if len(body) == 1 else b"".join(body)
                self._body = []
                self.body_size = 0
                w.set_result((self.status, self.headers, data, self.trailers))
            if not self._h2_closed:
                # the request body is still going: nobody wants the rest of it
                self._stop_upload()
                self._reset(_CANCEL)
            return
        if w is not None and not w.done():
            w.set_result(None)
        w = self._body_waiter
        if w is not None:
            self._body_waiter = None
            if not w.done():
                w.set_result(None)

    def _on_reset(self, code: int) -> None:
        """RST_STREAM from the peer."""
        self._closed_by_h2()
        self._stop_upload()
        if code == 0 and self.head_done:
            # the server has all it wants (RFC 9113 §8.1): a normal end of the body
            if not self.message_done:
                self._complete()
            return
        if code == _REFUSED_STREAM and not self.got_bytes:
            self.retryable = True
        self._fail(_stream_error(code))

    def _fail_protocol(self, what: str) -> None:
        self._fail(RemoteProtocolError(what))
        if not self._h2_closed:
            self._reset(_PROTOCOL_ERROR)

    # --- sending ----------------------------------------------------------------------------
    def _send_body(self, body: bytes) -> None:
        """Send as much of a bytes body as the windows allow now; the rest goes from a task."""
        conn = self.conn
        h = conn.h2
        sid = self.id
        n = len(body)
        window = h.local_flow_control_window(sid)
        frame = h.max_outbound_frame_size
        if n <= window and n <= frame:
            h.send_data(sid, body, end_stream=True)
            self._sent_request()
            return
        view = memoryview(body)
        pos = 0
        while pos < n and window > 0:
            size = min(n - pos, window, frame)
            h.send_data(sid, view[pos : pos + size], end_stream=pos + size == n)
            pos += size
            window -= size
        if pos == n:
            self._sent_request()
            return
        self.upload_task = conn.loop.create_task(_upload(self, _rest(view[pos:])))

    async def send(self, data: bytes | bytearray | memoryview) -> None:
        """Send one piece of a streamed body, waiting for flow-control window and socket."""
        conn = self.conn
        h = conn.h2
        sid = self.id
        view = memoryview(data)
        pos = 0
        n = len(view)
        queued = 0
        while pos < n:
            if self.error is not None:
                raise _mapped(self.error, "Request failed: ", WriteError)
            if self._h2_closed or conn.closed:
                raise _StopUpload
            if conn.write_paused:
                await conn.writable()
                continue
            window = h.local_flow_control_window(sid)
            if window <= 0:
                if queued:
                    conn.flush()
                    queued = 0
                w = self._send_waiter = conn.loop.create_future()
                conn._blocked.add(self)
                await w
                continue
            size = min(n - pos, window, h.max_outbound_frame_size)
            h.send_data(sid, view[pos : pos + size])
            pos += size
            queued += size
            if queued >= WRITE_BATCH:
                conn.flush()
                queued = 0
        if queued:
            conn.flush_soon()

    def end_request(self) -> None:
        if self._h2_closed or self.sent_end:
            return
        self.conn.h2.end_stream(self.id)
        self.conn.flush_soon()
        self._sent_request()

    def _sent_request(self) -> None:
        self.sent_end = True
        if self.recv_end:
            self._closed_by_h2()

    def _wake_sender(self) -> None:
        w = self._send_waiter
        if w is not None:
            self._send_waiter = None
            self.conn._blocked.discard(self)
            if not w.done():
                w.set_result(None)

    # --- state ------------------------------------------------------------------------------
    def _ack(self) -> None:
        n = self._unacked
        self._unacked = 0
        with contextlib.suppress(h2.exceptions.H2Error):
            self.conn.h2.increment_flow_control_window(n, self.id)

    def _reset(self, code: int) -> None:
        conn = self.conn
        self._closed_by_h2()
        if not conn.closed:
            try:
                conn.h2.reset_stream(self.id, code)
            except h2.exceptions.H2Error:
                return
            conn.flush_soon()

    def _closed_by_h2(self) -> None:
        """h2 counts this stream as closed from now on (both ends done, or reset)."""
        if not self._h2_closed:
            self._h2_closed = True
            self.conn._stream_closed(self)

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        self._cancel_timers()
        self._stop_upload()
        self._wake(self.error)

    def _wake(self, exc: BaseException) -> None:
        w = self._waiter
        self._waiter = None
        if w is not None and not w.done():
            if self.head_done and self._buffered:
                w.set_exception(_mapped(exc, "Error reading full content: ", ReadError))
            else:
                w.set_exception(
                    _mapped(exc, "Request failed: ", ReadError if self.sent_end else WriteError)
                )
        w = self._body_waiter
        self._body_waiter = None
        if w is not None and not w.done():
            w.set_result(None)  # the consumer calls take_chunk, which raises
        self._wake_sender()

    def _stop_upload(self) -> None:
        task = self.upload_task
        if task is not None:
            self.upload_task = None
            if task is not asyncio.current_task():
                task.cancel()

    def _cancel_timers(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _start_timers(self, timeout: float | None, read_timeout: float | None) -> None:
        loop = self.conn.loop
        if timeout is not None:
            self._deadline = loop.call_at(loop.time() + timeout, self._on_deadline)
        if read_timeout is not None:
            self._read_timeout = read_timeout
            self._last_read = loop.time()
            self._read_timer = loop.call_at(self._last_read + read_timeout, self._on_read_timer)

    def _on_deadline(self) -> None:
        self._deadline = None
        self._timed_out("request timed out")

    def _on_read_timer(self) -> None:
        loop = self.conn.loop
        now = loop.time()
        due = self._last_read + self._read_timeout
        self._read_timer = None
        if self._waiter is None and self._body_waiter is None and self.head_done:
            # nobody is reading: the consumer's own pace is not a read timeout
            self._last_read = now
            due = now + self._read_timeout
        if now < due:
            self._read_timer = loop.call_at(due, self._on_read_timer)
            return
        self._timed_out("read timed out")

    def _timed_out(self, what: str) -> None:
        if self.message_done:
            return
        self._fail(TimeoutError(what))
        if not self._h2_closed:
            self._reset(_CANCEL)


class _StopUpload(Exception):
    """The stream ended while its body was still being sent: stop quietly."""


async def _rest(view: memoryview) -> AsyncIterator[memoryview]:
    yield view


async def _upload(stream: H2Stream, body: AsyncIterator[Any]) -> None:
    """Pump a streamed request body with flow control; always closes the iterator."""
    exc: BaseException | None = None
    try:
        async for chunk in body:
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise TypeError(f"Request body chunk must be bytes, got {type(chunk).__name__}")
            if chunk:
                await stream.send(chunk)
        stream.end_request()
    except asyncio.CancelledError:
        raise
    except _StopUpload:
        pass
    except WriteError as e:
        exc = e
    except BaseException as e:
        exc = WriteError(f"Request failed: stream error sent by user: {_reason(_INTERNAL_ERROR)}"
                         f": {e}")
        exc.__cause__ = e
    finally:
        aclose = getattr(body, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
    if exc is not None and stream.error is None:
        stream.upload_task = None
        if not stream._h2_closed:
            stream._reset(_INTERNAL_ERROR)
        stream._fail(exc)


class H2Connection(asyncio.Protocol):
    """One HTTP/2 connection: an asyncio protocol driving an h2 state machine."""

    def __init__(self, loop: asyncio.AbstractEventLoop, key: Any) -> None:
        self.loop = loop
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.h2 = h = _H2State(_CONFIG)
        h.encoder = _CachingEncoder()
        h.decoder = HPACKDecoder(h.decoder.max_header_list_size)  # type: ignore[assignment]
        self.h2.state_machine = _StateMachine()
        self.streams: dict[int, H2Stream] = {}
        self.nopen = 0  # our streams h2 counts as open
        self.max_streams = 100  # the peer's SETTINGS_MAX_CONCURRENT_STREAMS once known
        self.usable = True  # takes new streams (not closed, no GOAWAY)
        self.closed = False
        self.served = 0  # streams completed: a later failure may be a stale connection
        self.write_paused = False
        self.pool: H2Pool | None = None
        self.idle_since = 0.0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._ready: asyncio.Future[None] | None = loop.create_future()
        self._cap_waiters: deque[asyncio.Future[None]] = deque()
        self._write_waiters: list[asyncio.Future[None]] = []
        self._blocked: set[H2Stream] = set()  # streams waiting for flow-control window
        self._flush_pending = False
        self._conn_unacked = 0
        self._goaway_last = -1  # last-stream-id of a graceful GOAWAY being drained

    # --- asyncio protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        h = self.h2
        h.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
                h2.settings.SettingCodes.MAX_FRAME_SIZE: MAX_FRAME_SIZE,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: MAX_HEAD_BYTES,
            },
        )
        # some servers balk at this setting in the first SETTINGS frame
        del h.local_settings[h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL]
        h.initiate_connection()
        # h2 raises its frame size limit only at the SETTINGS ACK, and only for the next read:
        # frames the server sends after the ACK in the same read would be refused
        h.max_inbound_frame_size = MAX_FRAME_SIZE
        h.increment_flow_control_window(CONN_WINDOW - 65535)
        self.flush()

    def data_received(self, data: bytes) -> None:
        try:
            events: list[Any] = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self.flush()  # h2 queued a GOAWAY
            self._fail(RemoteProtocolError(f"connection error detected: {exc}"))
            return
        streams = self.streams
        for ev in events:
            cls = ev.__class__
            if cls is _DataReceived:
                n = ev.flow_controlled_length
                self._conn_unacked += n
                s = streams.get(ev.stream_id)
                if s is not None:
                    s._on_data(ev.data, n)
            elif cls is _ResponseReceived:
                s = streams.get(ev.stream_id)
                if s is not None:
                    s._on_head(ev.headers)
            elif cls is _StreamEnded:
                s = streams.get(ev.stream_id)
                if s is not None:
                    s._on_end()
            elif cls is _WindowUpdated:
                self._on_window(ev.stream_id)
            elif cls is _TrailersReceived:
                s = streams.get(ev.stream_id)
                if s is not None:
                    s._on_trailers(ev.headers)
            elif cls is _StreamReset:
                s = streams.get(ev.stream_id)
                if s is not None and ev.remote_reset:
                    s._on_reset(ev.error_code)
            elif cls is _RemoteSettingsChanged:
                self._on_settings()
            elif cls is _ConnectionTerminated:
                self._on_goaway(ev.error_code, ev.last_stream_id)
                if self.closed:
                    return
        if self._conn_unacked >= CONN_ACK_BATCH:
            self.h2.increment_flow_control_window(self._conn_unacked)
            self._conn_unacked = 0
        self.flush()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._ready is not None:
            # still connecting (a TLS 1.3 server rejecting our certificate looks like this)
            cause: BaseException = (
                exc if isinstance(exc, OSError)
                else ConnectionError("connection closed before the server's HTTP/2 SETTINGS")
            )
        elif exc is None:
            cause = RemoteProtocolError("connection closed by the server")
        elif isinstance(exc, OSError):
            cause = exc
        else:
            cause = ConnectionResetError(str(exc))
        self._fail(cause)
        for w in self._write_waiters:
            if not w.done():
                w.set_result(None)
        self._write_waiters.clear()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        waiters, self._write_waiters = self._write_waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    # --- writing ----------------------------------------------------------------------------
    def flush(self) -> None:
        self._flush_pending = False
        data = self.h2.data_to_send()
        if data and not self.closed:
            self.transport.write(data)  # type: ignore[union-attr]

    def flush_soon(self) -> None:
        if not self._flush_pending:
            self._flush_pending = True
            try:
                self.loop.call_soon(self.flush)
            except RuntimeError:  # the loop is closed
                self._flush_pending = False

    def writable(self) -> asyncio.Future[None]:
        w = self.loop.create_future()
        self._write_waiters.append(w)
        return w

    # --- streams ----------------------------------------------------------------------------
    def ready(self) -> asyncio.Future[None] | None:
        """None once the server's SETTINGS arrived, else a future resolved then."""
        return self._ready

    @property
    def available(self) -> bool:
        return self.usable and self.nopen < self.max_streams

    def open_stream(
        self,
        headers: list[tuple[str, str]],
        body: Any,
        buffered: bool,
        timeout: float | None,
        read_timeout: float | None,
    ) -> H2Stream:
        """Start a request (the caller checked `available`)."""
        h = self.h2
        sid = h.get_next_available_stream_id()
        stream = H2Stream(self, sid, buffered)
        end = body is None
        h.send_headers(sid, headers, end_stream=end)
        self.streams[sid] = stream
        self.nopen += 1
        if end:
            stream.sent_end = True
        elif isinstance(body, bytes):
            stream._send_body(body)
        else:
            stream.upload_task = self.loop.create_task(_upload(stream, body))
        if timeout is not None or read_timeout is not None:
            stream._start_timers(timeout, read_timeout)
        self.flush_soon()
        return stream

    def wait_capacity(self) -> asyncio.Future[None]:
        w = self.loop.create_future()
        self._cap_waiters.append(w)
        return w

    def wake_capacity(self, n: int = 1) -> None:
        waiters = self._cap_waiters
        while waiters and n:
            w = waiters.popleft()
            if not w.done():
                w.set_result(None)
                n -= 1

    def _stream_closed(self, stream: H2Stream) -> None:
        self.nopen -= 1
        if self.streams.pop(stream.id, None) is not None and stream.message_done:
            self.served += 1
        if self._cap_waiters:
            self.wake_capacity()
        if not self.streams:
            if self._goaway_last >= 0 or not self.usable:
                # draining after a GOAWAY (or its pool closed): done now
                self.close()
            else:
                self._went_idle()

    def _on_window(self, stream_id: int) -> None:
        if stream_id:
            s = self.streams.get(stream_id)
            if s is not None:
                s._wake_sender()
        elif self._blocked:
            for s in list(self._blocked):
                s._wake_sender()

    def _on_settings(self) -> None:
        limit = self.h2.remote_settings.max_concurrent_streams
        self.max_streams = limit if limit is not None else 1 << 31
        w = self._ready
        if w is not None:
            self._ready = None
            if not w.done():
                w.set_result(None)
        if self._cap_waiters:
            self.wake_capacity(max(0, self.max_streams - self.nopen))
        # the initial window may have changed: blocked senders look again
        self._on_window(0)

    def _on_goaway(self, error_code: int, last_stream_id: int) -> None:
        self._unusable()
        for s in list(self.streams.values()):
            if s.id > last_stream_id:
                # never processed by the server: safe to send again elsewhere
                s.retryable = True
                s._closed_by_h2()
                s._fail(RemoteProtocolError(
                    f"connection error received: {_reason(error_code)} (GOAWAY, stream not "
                    "processed)"
                ))
        if error_code != 0:
            self._fail(RemoteProtocolError(f"connection error received: {_reason(error_code)}"))
            return
        # graceful: the streams the server still processes finish (see _StateMachine)
        self._goaway_last = last_stream_id
        if not self.streams:
            self.close()

    def _unusable(self) -> None:
        if self.usable:
            self.usable = False
            pool = self.pool
            if pool is not None:
                pool.forget(self)
        # waiters for a slot look for another connection
        self.wake_capacity(len(self._cap_waiters))

    def _fail(self, cause: BaseException) -> None:
        """The connection is broken: every stream on it fails, it leaves the pool."""
        self._unusable()
        w = self._ready
        if w is not None:
            self._ready = None
            if not w.done():
                w.set_exception(cause)
                w.exception()  # retrieved: nobody may be waiting
        stale = self.served > 0
        for s in list(self.streams.values()):
            if stale and not s.got_bytes:
                s.retryable = True
            s._h2_closed = True
            s._fail(cause)
        self.streams.clear()
        self.nopen = 0
        self.close()

    def _went_idle(self) -> None:
        pool = self.pool
        if pool is None:
            return
        if pool.max_idle == 0 or pool.closed:
            self.close()
            return
        self.idle_since = self.loop.time()
        if self._idle_timer is None and pool.idle_timeout is not None:
            self._idle_timer = self.loop.call_at(
                self.idle_since + pool.idle_timeout, self._on_idle_timer
            )

    def _on_idle_timer(self) -> None:
        self._idle_timer = None
        pool = self.pool
        if self.closed or self.streams or pool is None or pool.idle_timeout is None:
            return
        due = self.idle_since + pool.idle_timeout
        if self.loop.time() >= due:
            self.close()
        else:
            self._idle_timer = self.loop.call_at(due, self._on_idle_timer)

    def close(self) -> None:
        """Close politely (GOAWAY) and for good; streams still open fail."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        self._unusable()
        if self.closed:
            return
        self.closed = True
        if self.streams:
            for s in list(self.streams.values()):
                s._h2_closed = True
                s._fail(ConnectionResetError("connection closed"))
            self.streams.clear()
        t = self.transport
        if t is None or t.is_closing():
            return
        try:
            with contextlib.suppress(h2.exceptions.H2Error):
                self.h2.close_connection()
            data = self.h2.data_to_send()
            if data:
                t.write(data)
            t.close()
        except RuntimeError:
            # its event loop is closed already: close the socket itself
            sock = t.get_extra_info("socket")
            raw = getattr(sock, "_sock", sock)
            if isinstance(raw, socket.socket):
                raw.close()


# --- pools ------------------------------------------------------------------------------------

Connect = Callable[[asyncio.AbstractEventLoop, Any], Awaitable[H2Connection | None]]


class H2Pool:
    """The HTTP/2 connections of one transport on one event loop: one per origin."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        connect: Connect,
        idle_timeout: float | None,
        max_idle: int | None,
    ) -> None:
        self.loop = loop
        self._connect = connect
        self.idle_timeout = idle_timeout
        self.max_idle = max_idle
        self.conns: dict[Any, H2Connection] = {}
        self._connecting: dict[Any, asyncio.Future[Any]] = {}
        self._draining: set[H2Connection] = set()
        self.closed = False

    def forget(self, conn: H2Connection) -> None:
        if self.conns.get(conn.key) is conn:
            del self.conns[conn.key]

    async def acquire(self, key: Any, deadline: float | None = None) -> H2Connection | None:
        """A connection to `key` with a free stream slot (waiting for one until `deadline`, a
        loop time, or connecting); None when the connector found the origin speaks
        HTTP/1.1."""
        while True:
            conn = self.conns.get(key)
            if conn is not None:
                if conn.available:
                    return conn
                if not conn.usable:
                    self.forget(conn)
                    continue
                w = conn.wait_capacity()
                timer = None if deadline is None else self.loop.call_at(deadline, _expire, w)
                try:
                    await w
                except asyncio.CancelledError:
                    if w.done() and not w.cancelled():
                        conn.wake_capacity()  # pass the slot on
                    raise
                finally:
                    if timer is not None:
                        timer.cancel()
                continue
            pending = self._connecting.get(key)
            if pending is not None:
                result = await asyncio.shield(pending)
                if result is _HTTP1:
                    return None
                if isinstance(result, BaseException):
                    raise _copy(result)
                continue
            return await self._open(key)

    async def _open(self, key: Any) -> H2Connection | None:
        """Connect (the one connector for `key`; concurrent acquirers wait for it)."""
        fut: asyncio.Future[Any] = self.loop.create_future()
        self._connecting[key] = fut
        result: Any = None
        try:
            conn = await self._connect(self.loop, key)
            if conn is None:
                result = _HTTP1
                return None
            conn.pool = self
            if self.closed:
                conn.usable = False
            else:
                old = self.conns.get(key)
                if old is not None and old.usable:
                    old._unusable()
                self.conns[key] = conn
            result = conn
            return conn
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            result = exc
            raise
        finally:
            del self._connecting[key]
            fut.set_result(result)

    async def exchange(
        self,
        key: Any,
        headers: list[tuple[str, str]],
        body: Any,
        buffered: bool,
        replayable: bool,
        timeout: float | None,
        read_timeout: float | None,
    ) -> Any:
        """Send one request. Returns (status, headers, body, trailers) when `buffered`, else
        the stream positioned after the response head; None if the origin speaks HTTP/1.1
        (found while connecting: nothing was sent)."""
        retried = False
        attempts = 0
        conns = self.conns
        # the total timeout also covers waiting for a stream slot
        deadline = None if timeout is None else self.loop.time() + timeout
        while True:
            conn = conns.get(key)
            if conn is None or not conn.available:
                conn = await self.acquire(key, deadline)
                if conn is None:
                    return None
            if deadline is not None:
                timeout = max(0.0, deadline - self.loop.time())
            try:
                stream = conn.open_stream(headers, body, buffered, timeout, read_timeout)
            except h2.exceptions.TooManyStreamsError:
                # h2 counts more open streams than we do: wait for one to end
                conn.max_streams = max(1, min(conn.max_streams, conn.nopen))
                attempts += 1
                if attempts > 3:
                    conn._unusable()
                continue
            except h2.exceptions.H2Error:
                # out of stream ids, or the connection is closing: another one
                conn._unusable()
                attempts += 1
                if attempts > 3:
                    raise
                continue
            waiter = stream._waiter
            try:
                if buffered:
                    return await waiter  # type: ignore[misc]
                await waiter  # type: ignore[misc]
                return stream
            except asyncio.CancelledError:
                stream.abort()
                raise
            except BaseException:
                if stream.retryable and replayable and not retried:
                    retried = True
                    stream.abort()
                    continue
                stream.abort()
                raise

    def close(self) -> None:
        """No new streams; connections close as their streams end."""
        self.closed = True
        conns, self.conns = self.conns, {}
        for conn in conns.values():
            conn.usable = False
            if not conn.streams:
                conn.close()


_HTTP1 = object()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError("Request failed: timed out waiting for an HTTP/2 stream"))


def _copy(exc: BaseException) -> BaseException:
    """A fresh exception like `exc` for another waiter (one instance, one traceback)."""
    try:
        new = type(exc)(*exc.args)
    except Exception:
        new = ConnectionError(str(exc))
    new.__cause__ = exc.__cause__
    return new


class H2Pools:
    """The HTTP/2 pools of one transport: one `H2Pool` per running event loop."""

    def __init__(
        self,
        connect: Connect,
        idle_timeout: float | None,
        max_idle: int | None,
        timeout: float | None,
        read_timeout: float | None,
    ) -> None:
        self._connect = connect
        self._idle_timeout = idle_timeout
        self._max_idle = max_idle
        self.timeout = timeout
        self.read_timeout = read_timeout
        self._pools: dict[asyncio.AbstractEventLoop, H2Pool] = {}
        self._last_loop: asyncio.AbstractEventLoop | None = None
        self._last_pool: H2Pool | None = None

    def pool_for(self, loop: asyncio.AbstractEventLoop) -> H2Pool:
        if loop is self._last_loop:
            return self._last_pool  # type: ignore[return-value]
        pool = self._pools.get(loop)
        if pool is None:
            # a pool never outlives its loop: drop those of closed loops
            for old in [lp for lp in self._pools if lp.is_closed()]:
                self._pools.pop(old).close()
            pool = self._pools[loop] = H2Pool(
                loop, self._connect, self._idle_timeout, self._max_idle
            )
        self._last_loop = loop
        self._last_pool = pool
        return pool

    def exchange(
        self,
        key: Any,
        headers: list[tuple[str, str]],
        body: Any,
        buffered: bool,
        replayable: bool,
    ) -> Awaitable[Any]:
        pool = self.pool_for(asyncio.get_running_loop())
        return pool.exchange(
            key, headers, body, buffered, replayable, self.timeout, self.read_timeout
        )

    def close(self) -> None:
        pools, self._pools = self._pools, {}
        self._last_loop = None
        self._last_pool = None
        for pool in pools.values():
            pool.close()


class ALPNNegotiator(asyncio.Protocol):
    """The protocol of a TLS connection whose HTTP version ALPN decides: at `connection_made`
    (after the handshake) it installs the real protocol, before any byte can arrive."""

    def __init__(
        self, make_h1: Callable[[], asyncio.BaseProtocol], make_h2: Callable[[], H2Connection]
    ) -> None:
        self._make_h1 = make_h1
        self._make_h2 = make_h2
        self.protocol: asyncio.BaseProtocol | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        ssl_object = transport.get_extra_info("ssl_object")
        alpn = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        proto = self._make_h2() if alpn == "h2" else self._make_h1()
        self.protocol = proto
        transport.set_protocol(proto)
        proto.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        proto = self.protocol
        if proto is not None:
            proto.connection_lost(exc)
