"""H3Session: the HTTP/3 layer (RFC 9114) of one client connection over qh3's QUIC, sans-IO.

It frames requests (HEADERS and DATA frames on request streams; QPACK by qh3's compiled
encoder and decoder), runs the control and QPACK streams, and parses what the server sends
into the core's events. It does what a client needs and no more: no server push (we never
send MAX_PUSH_ID) and no QPACK dynamic table for responses (we advertise a capacity of 0, as
the original's h3 stack does), so a response head never waits for encoder-stream updates.
A server that breaks a connection rule gets the CONNECTION_CLOSE code the RFC names and every
request on the connection fails; a malformed response fails its own request only.
"""

from __future__ import annotations

from qh3._hazmat import (
    DecoderStreamError,
    DecompressionFailed,
    EncoderStreamError,
    HeaderTooLarge,
    QpackDecoder,
    QpackEncoder,
    StreamBlocked,
)
from qh3.quic.connection import QuicConnection

from cpqwest._hpack import qpack_literal_block

from .errors import (
    H3_CLOSED_CRITICAL_STREAM,
    H3_EXCESSIVE_LOAD,
    H3_FRAME_ERROR,
    H3_FRAME_UNEXPECTED,
    H3_ID_ERROR,
    H3_MISSING_SETTINGS,
    H3_SETTINGS_ERROR,
    H3_STREAM_CREATION_ERROR,
    QPACK_DECODER_STREAM_ERROR,
    QPACK_DECOMPRESSION_FAILED,
    QPACK_ENCODER_STREAM_ERROR,
)
from .events import (
    Closed,
    Data,
    Event,
    GoAway,
    Head,
    Malformed,
    RawPairs,
    Reset,
    StopSending,
    Trailers,
)

# frame types (RFC 9114 §7.2)
_DATA = 0x0
_HEADERS = 0x1
_SETTINGS = 0x4
_GOAWAY = 0x7
# frames a server must not send on a request stream (push, control, and HTTP/2's reserved)
_NOT_ON_REQUEST = frozenset((0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0x8, 0x9, 0xD))
# ... nor on its control stream
_NOT_ON_CONTROL = frozenset((0x0, 0x1, 0x2, 0x5, 0x6, 0x8, 0x9, 0xD))
# unidirectional stream types (§6.2, RFC 9204 §4.2); _IGNORED marks unknown ones we discard
_CONTROL = 0x0
_PUSH = 0x1
_QPACK_ENCODER = 0x2
_QPACK_DECODER = 0x3
_IGNORED = -1
_CRITICAL = (_CONTROL, _QPACK_ENCODER, _QPACK_DECODER)
# settings (§7.2.4.1): HTTP/2's identifiers with no HTTP/3 meaning are an error
_QPACK_MAX_TABLE_CAPACITY = 0x1
_MAX_FIELD_SECTION_SIZE = 0x6
_QPACK_BLOCKED_STREAMS = 0x7
_RESERVED_SETTINGS = frozenset((0x0, 0x2, 0x3, 0x4, 0x5))

MAX_FIELD_SECTION = 1 << 20  # the decoded response head we accept (advertised)
_MAX_HEAD_FRAME = 4 * MAX_FIELD_SECTION + 32  # its encoding (Huffman may grow a byte to 30 bits)
_MAX_CONTROL_FRAME = 1 << 16  # SETTINGS and GOAWAY are a few bytes


class ConnectionBroken(Exception):
    """The server broke a connection rule: close with `code` (caught inside this module)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def varint(data: bytes, pos: int) -> tuple[int, int]:
    """A QUIC variable-length integer at `pos` (RFC 9000 §16) and the position after it;
    (0, -1) when `data` ends inside it."""
    n = len(data)
    if pos >= n:
        return 0, -1
    first = data[pos]
    size = 1 << (first >> 6)
    end = pos + size
    if end > n:
        return 0, -1
    if size == 1:
        return first, end
    return int.from_bytes(data[pos:end], "big") & ((1 << (8 * size - 2)) - 1), end


def frame_header(data: bytes, pos: int) -> tuple[int, int, int]:
    """A frame's type, its length and where its payload starts; a start of -1 when `data`
    ends inside the header."""
    ftype, body = varint(data, pos)
    if body < 0:
        return 0, 0, -1
    flen, body = varint(data, body)
    return ftype, flen, body


def encode_varint(value: int) -> bytes:
    if value < 0x40:
        return bytes((value,))
    if value < 0x4000:
        return (value | 0x4000).to_bytes(2, "big")
    if value < 0x40000000:
        return (value | 0x80000000).to_bytes(4, "big")
    return (value | 0xC000000000000000).to_bytes(8, "big")


def _frame_head(frame_type: int, length: int) -> bytes:
    if length < 0x40:
        return bytes((frame_type, length))
    return bytes((frame_type,)) + encode_varint(length)


def _informational(pairs: RawPairs) -> bool:
    """A 1xx head (the final one comes after it)."""
    for name, value in pairs:
        if name == b":status":
            return len(value) == 3 and value[0] == 0x31  # b"1"
        if name[:1] != b":":
            break
    return False


class _Frames:
    """A stream of frames arriving in pieces: the start of a frame not complete yet is
    gathered, not re-parsed, until the frame is whole (a large head in small pieces costs
    linear time)."""

    __slots__ = ("need", "pending")

    def __init__(self) -> None:
        self.pending: bytearray | None = None  # the start of a frame not complete yet ...
        self.need = 0  # ... and the bytes that frame needs in all (0: its header is cut)

    def gather(self, data: bytes, fin: bool) -> bytes | None:
        """What to parse now: `data` after what is pending; None while the frame is short."""
        pending = self.pending
        if pending is None:
            return data
        pending += data
        if len(pending) < self.need and not fin:
            return None
        self.pending = None
        return bytes(pending)

    def keep(self, rest: bytes, need: int) -> None:
        """Hold the start of a frame (`need`: its whole size, 0 while its header is cut)."""
        self.pending = bytearray(rest)
        self.need = need


class _Response(_Frames):
    """Where the parse of one request stream stands."""

    __slots__ = ("data_left", "phase", "skip_left")

    def __init__(self) -> None:
        super().__init__()
        self.data_left = 0  # bytes of the DATA frame being received still to come
        self.skip_left = 0  # ... of an unknown frame being skipped
        self.phase = 0  # 0: before the head, 1: body, (trailers end the parse)


class H3Session:
    """HTTP/3 on one client QUIC connection: requests out, response events in."""

    def __init__(self, quic: QuicConnection) -> None:
        self._quic = quic
        self._send = quic.send_stream_data
        self._encoder: QpackEncoder | None = QpackEncoder()  # None: literal lines from now on
        self._decoder = QpackDecoder(0, 0, max_field_section_size=MAX_FIELD_SECTION)
        self._responses: dict[int, _Response] = {}
        self._peer_kind: dict[int, int] = {}  # server unidirectional stream -> its type
        self._peer_start: dict[int, bytes] = {}  # ... whose type varint is incomplete
        self._peer_control = _Frames()  # the parse of the server's control stream
        self._settings_seen = False
        self._goaway: int | None = None
        self.broken = False  # we closed the connection for a rule the server broke
        # (a QPACK table capacity of 0 and no blocked streams are the defaults: not sent)
        settings = encode_varint(_MAX_FIELD_SECTION_SIZE) + encode_varint(MAX_FIELD_SECTION)
        self._local = (
            self._open_uni(_CONTROL, _frame_head(_SETTINGS, len(settings)) + settings),
            self._open_uni(_QPACK_ENCODER),
            self._open_uni(_QPACK_DECODER),
        )
        self._encoder_stream = self._local[1]
        self._decoder_stream = self._local[2]

    def _open_uni(self, kind: int, first: bytes = b"") -> int:
        sid = self._quic.get_next_available_stream_id(is_unidirectional=True)
        self._send(sid, bytes((kind,)) + first)
        return sid

    # --- requests out -----------------------------------------------------------------------
    def send_headers(self, stream_id: int, pairs: RawPairs, end: bool) -> None:
        """The request head on a new request stream."""
        encoder = self._encoder
        block = None
        if encoder is not None:
            try:
                instructions, block = encoder.encode(stream_id, pairs)
            except EncoderStreamError:
                # qh3's coder refuses a field whose coding passes 4 KiB (a large cookie or
                # token); after a failed call its table may not match what the server saw,
                # so this connection codes every head literally from now on
                self._encoder = None
            else:
                if instructions:
                    self._send(self._encoder_stream, instructions)
        if block is None:
            block = qpack_literal_block(pairs)
        self._send(stream_id, _frame_head(_HEADERS, len(block)) + block, end)
        self._responses[stream_id] = _Response()

    def send_data(self, stream_id: int, data: bytes | bytearray | memoryview, end: bool) -> None:
        """Body bytes as one DATA frame (none for an empty piece: then only the end)."""
        n = len(data)
        if not n:
            if end:
                self._send(stream_id, b"", True)
            return
        if n <= 4096:
            self._send(stream_id, b"".join((_frame_head(_DATA, n), data)), end)
        else:  # no copy of a large body into one frame
            self._send(stream_id, _frame_head(_DATA, n))
            self._send(stream_id, data, end)

    def forget(self, stream_id: int) -> None:
        """We abandoned a request stream: what still arrives on it is dropped."""
        self._responses.pop(stream_id, None)

    # --- what the server sends ----------------------------------------------------------------
    def stream_data(self, stream_id: int, data: bytes, fin: bool, out: list[Event]) -> None:
        """Bytes QUIC delivered on a stream, in order (`fin`: its last); events to `out`."""
        if self.broken:
            return
        try:
            if stream_id & 2:
                self._uni_data(stream_id, data, fin, out)
                return
            resp = self._responses.get(stream_id)
            if resp is not None:
                self._response_data(stream_id, resp, data, fin, out)
            elif stream_id & 1:
                raise ConnectionBroken(H3_STREAM_CREATION_ERROR, "a stream the server opened")
        except ConnectionBroken as exc:
            self._break(exc, out)

    def stream_reset(self, stream_id: int, code: int, out: list[Event]) -> None:
        """The server reset a stream it sends on (RESET_STREAM)."""
        if self.broken:
            return
        if stream_id & 2:
            if self._peer_kind.pop(stream_id, _IGNORED) in _CRITICAL:
                self._break(ConnectionBroken(H3_CLOSED_CRITICAL_STREAM,
                                             "the server reset a critical stream"), out)
            return
        if self._responses.pop(stream_id, None) is not None:
            out.append(Reset(stream_id, code))

    def stop_sending(self, stream_id: int, code: int, out: list[Event]) -> None:
        """The server wants no more on a stream we send on (STOP_SENDING)."""
        if self.broken:
            return
        if stream_id in self._local:
            self._break(ConnectionBroken(H3_CLOSED_CRITICAL_STREAM,
                                         "the server stopped a critical stream"), out)
            return
        out.append(StopSending(stream_id, code))

    def _break(self, exc: ConnectionBroken, out: list[Event]) -> None:
        self.broken = True
        self._responses.clear()
        self._quic.close(error_code=exc.code, reason_phrase=exc.reason)
        out.append(Closed(exc.code, exc.reason, False, True))

    def _response_data(
        self, sid: int, resp: _Response, data: bytes, fin: bool, out: list[Event]
    ) -> None:
        if resp.pending is not None:
            whole = resp.gather(data, fin)
            if whole is None:
                return
            data = whole
        pos = 0
        n = len(data)
        while pos < n:
            left = resp.data_left
            if left:
                take = n - pos if n - pos < left else left
                resp.data_left = left - take
                out.append(Data(sid, data if take == n else data[pos:pos + take], False))
                pos += take
                continue
            left = resp.skip_left
            if left:
                take = n - pos if n - pos < left else left
                resp.skip_left = left - take
                pos += take
                continue
            # a frame header: its type and length (each one byte, mostly)
            ftype = data[pos]
            if ftype < 0x40 and pos + 1 < n and data[pos + 1] < 0x40:
                flen = data[pos + 1]
                body = pos + 2
            else:
                ftype, flen, body = frame_header(data, pos)
                if body < 0:
                    resp.keep(data[pos:], 0)
                    break
            if ftype == _DATA:
                if resp.phase != 1:
                    raise ConnectionBroken(H3_FRAME_UNEXPECTED, "DATA before the response head")
                resp.data_left = flen
                pos = body
            elif ftype == _HEADERS:
                if flen > _MAX_HEAD_FRAME:
                    raise ConnectionBroken(H3_EXCESSIVE_LOAD, "a response head too large")
                end = body + flen
                if end > n:
                    resp.keep(data[pos:], end - pos)
                    break
                pos = end
                pairs = self._decode(sid, data, body, flen, out)
                if pairs is None:
                    return
                if resp.phase:
                    del self._responses[sid]  # trailers end the response; what follows is dropped
                    out.append(Trailers(sid, pairs))
                    return
                if not _informational(pairs):
                    resp.phase = 1
                    out.append(Head(sid, pairs, False))
            elif ftype in _NOT_ON_REQUEST:
                raise ConnectionBroken(H3_FRAME_UNEXPECTED,
                                       f"frame type {ftype:#x} on a request stream")
            else:  # unknown and reserved (grease) types are skipped
                resp.skip_left = flen
                pos = body
        if fin:
            del self._responses[sid]
            if resp.pending is not None or resp.data_left or resp.skip_left:
                raise ConnectionBroken(H3_FRAME_ERROR, "a frame cut short by its stream's end")
            if not resp.phase:
                out.append(Malformed(sid, "the response ended before its head"))
                return
            last = out[-1] if out else None
            if isinstance(last, (Head, Data)) and last.stream_id == sid:
                last.ended = True
            else:
                out.append(Data(sid, b"", True))

    def _decode(
        self, sid: int, data: bytes, offset: int, length: int, out: list[Event]
    ) -> RawPairs | None:
        """A header section; None when it is too large (its request fails: the driver resets
        the stream)."""
        try:
            if not length:
                raise DecompressionFailed()
            instructions, pairs = self._decoder.feed_header(sid, data, offset=offset, length=length)
        except (DecompressionFailed, DecoderStreamError, StreamBlocked) as exc:
            # no dynamic table: a block it cannot decode is the encoder's fault, and QPACK
            # state may differ from now on
            raise ConnectionBroken(QPACK_DECOMPRESSION_FAILED, "a bad header block") from exc
        except HeaderTooLarge:
            del self._responses[sid]
            out.append(Malformed(sid, f"a response head over {MAX_FIELD_SECTION} bytes"))
            return None
        if instructions:
            self._send(self._decoder_stream, instructions)
        return pairs

    # --- the server's unidirectional streams --------------------------------------------------
    def _uni_data(self, sid: int, data: bytes, fin: bool, out: list[Event]) -> None:
        kind = self._peer_kind.get(sid)
        if kind is None:
            data = self._peer_start.pop(sid, b"") + data
            kind, pos = varint(data, 0)
            if pos < 0:
                if not fin:
                    self._peer_start[sid] = data
                return
            if kind in _CRITICAL:
                if kind in self._peer_kind.values():
                    raise ConnectionBroken(H3_STREAM_CREATION_ERROR,
                                           f"a second stream of type {kind:#x}")
            elif kind == _PUSH:
                raise ConnectionBroken(H3_ID_ERROR, "a push stream (no push was allowed)")
            else:  # unknown types are for extensions we do not speak: their bytes are dropped
                kind = _IGNORED
            self._peer_kind[sid] = kind
            data = data[pos:]
        if kind == _CONTROL:
            self._control_data(data, out)
        elif kind == _QPACK_ENCODER and data:
            try:
                self._decoder.feed_encoder(data)
            except (EncoderStreamError, HeaderTooLarge) as exc:
                raise ConnectionBroken(QPACK_ENCODER_STREAM_ERROR, str(exc)) from exc
        elif kind == _QPACK_DECODER and data and self._encoder is not None:
            try:
                self._encoder.feed_decoder(data)
            except DecoderStreamError as exc:
                raise ConnectionBroken(QPACK_DECODER_STREAM_ERROR, str(exc)) from exc
        if fin:
            if kind in _CRITICAL:
                raise ConnectionBroken(H3_CLOSED_CRITICAL_STREAM, "a critical stream ended")
            self._peer_kind.pop(sid, None)

    def _control_data(self, data: bytes, out: list[Event]) -> None:
        frames = self._peer_control
        whole = frames.gather(data, False)
        if whole is None:
            return
        pos = 0
        n = len(whole)
        while pos < n:
            ftype, flen, body = frame_header(whole, pos)
            if body < 0:
                frames.keep(whole[pos:], 0)
                return
            if flen > _MAX_CONTROL_FRAME:
                raise ConnectionBroken(H3_EXCESSIVE_LOAD, "a control frame too large")
            end = body + flen
            if end > n:
                frames.keep(whole[pos:], end - pos)
                return
            self._control_frame(ftype, whole[body:end], out)
            pos = end

    def _control_frame(self, ftype: int, payload: bytes, out: list[Event]) -> None:
        if not self._settings_seen:
            if ftype != _SETTINGS:
                raise ConnectionBroken(H3_MISSING_SETTINGS, "a control stream without SETTINGS")
            self._settings_seen = True
            self._apply_settings(payload)
        elif ftype == _GOAWAY:
            last, end = varint(payload, 0)
            if end != len(payload):
                raise ConnectionBroken(H3_FRAME_ERROR, "a malformed GOAWAY")
            if last & 3 or (self._goaway is not None and last > self._goaway):
                raise ConnectionBroken(H3_ID_ERROR, f"GOAWAY with stream id {last}")
            self._goaway = last
            out.append(GoAway(last))
        elif ftype == _SETTINGS or ftype in _NOT_ON_CONTROL:
            raise ConnectionBroken(H3_FRAME_UNEXPECTED, f"frame type {ftype:#x} on control stream")

    def _apply_settings(self, payload: bytes) -> None:
        settings: dict[int, int] = {}
        pos = 0
        while pos < len(payload):
            key, pos = varint(payload, pos)
            if pos > 0:
                value, pos = varint(payload, pos)
            if pos < 0:
                raise ConnectionBroken(H3_FRAME_ERROR, "a malformed SETTINGS")
            if key in _RESERVED_SETTINGS or key in settings:
                raise ConnectionBroken(H3_SETTINGS_ERROR, f"setting {key:#x} reserved or repeated")
            settings[key] = value
        encoder = self._encoder
        if encoder is None:  # (a head went out literally before the settings came)
            return
        capacity = settings.get(_QPACK_MAX_TABLE_CAPACITY, 0)
        instructions = encoder.apply_settings(
            max_table_capacity=capacity,
            dyn_table_capacity=capacity,
            blocked_streams=settings.get(_QPACK_BLOCKED_STREAMS, 0),
        )
        if instructions:
            self._send(self._encoder_stream, instructions)


__all__ = ["MAX_FIELD_SECTION", "H3Session", "encode_varint", "varint"]
