"""The HTTP/3 layer (`pyqwest._h3.session.H3Session`) on its own: server bytes in, events out.

The session sits on a real qh3 `QuicConnection` (not connected: what it sends is staged), and
the server's streams are fed to it as QUIC would deliver them, so each rule of RFC 9114 the
parser enforces is pinned by the bytes that break it. End-to-end cases are in
test_http3_faults.py.
"""

from __future__ import annotations

import pytest
from qh3._hazmat import QpackDecoder, QpackEncoder
from qh3.quic.configuration import QuicConfiguration
from qh3.quic.connection import QuicConnection

from cpqwest._hpack import qpack_literal_block
from pyqwest._h3.errors import (
    H3_CLOSED_CRITICAL_STREAM,
    H3_FRAME_ERROR,
    H3_FRAME_UNEXPECTED,
    H3_ID_ERROR,
    H3_MISSING_SETTINGS,
    H3_SETTINGS_ERROR,
    H3_STREAM_CREATION_ERROR,
    QPACK_DECOMPRESSION_FAILED,
)
from pyqwest._h3.events import (
    Closed,
    Data,
    Event,
    GoAway,
    Head,
    Malformed,
    Reset,
    StopSending,
    Trailers,
)
from pyqwest._h3.session import H3Session, encode_varint, varint

SID = 0  # the first request stream
CONTROL, ENCODER, PUSH = 3, 7, 11  # server unidirectional stream ids
HEAD = [(b":status", b"200"), (b"content-type", b"text/plain")]


def frame(ftype: int, payload: bytes) -> bytes:
    return encode_varint(ftype) + encode_varint(len(payload)) + payload


def block(pairs: list[tuple[bytes, bytes]]) -> bytes:
    """A QPACK field section (static table only, as a server must encode for us)."""
    return QpackEncoder().encode(SID, pairs)[1]


def headers(pairs: list[tuple[bytes, bytes]]) -> bytes:
    return frame(0x1, block(pairs))


def data(payload: bytes) -> bytes:
    return frame(0x0, payload)


SETTINGS = encode_varint(0x0) + frame(0x4, encode_varint(0x6) + encode_varint(4096))


@pytest.fixture
def session() -> H3Session:
    quic = QuicConnection(configuration=QuicConfiguration(is_client=True, alpn_protocols=["h3"]))
    s = H3Session(quic)
    s.send_headers(SID, [(b":method", b"GET"), (b":scheme", b"https"),
                         (b":authority", b"a"), (b":path", b"/")], True)
    return s


def feed(session: H3Session, sid: int, payload: bytes, fin: bool = False) -> list[Event]:
    out: list[Event] = []
    session.stream_data(sid, payload, fin, out)
    return out


def closed(events: list[Event]) -> int:
    """The code we closed the connection with (the last event must be our close)."""
    last = events[-1]
    assert isinstance(last, Closed) and last.ours
    return last.code


def response(events: list[Event]) -> tuple[object, bytes, object, bool]:
    """(head, body, trailers, ended) from the events of one request stream."""
    head = trailers = None
    body = b""
    ended = False
    for ev in events:
        assert not isinstance(ev, (Closed, Malformed)), ev
        if isinstance(ev, Head):
            head = ev.headers
            ended = ended or ev.ended
        elif isinstance(ev, Data):
            body += ev.data
            ended = ended or ev.ended
        elif isinstance(ev, Trailers):
            trailers = ev.headers
            ended = True
    return head, body, trailers, ended


# --- varints ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 63, 64, 16383, 16384, (1 << 30) - 1, 1 << 30, (1 << 62) - 1])
def test_varints_round_trip(value: int) -> None:
    encoded = encode_varint(value)
    assert varint(b"x" + encoded, 1) == (value, 1 + len(encoded))


def test_a_cut_varint_is_incomplete() -> None:
    assert varint(encode_varint(1 << 20)[:2], 0) == (0, -1)


# --- request heads -----------------------------------------------------------------------


def test_a_literal_head_decodes_whatever_its_size() -> None:
    pairs = [(b":method", b"GET"), (b"cookie", b"c" * 20_000), (b"n" * 300, b""), (b"a", b"b")]
    decoded = QpackDecoder(0, 0, max_field_section_size=1 << 20).feed_header(
        SID, qpack_literal_block(pairs)
    )[1]
    assert decoded == pairs


def test_a_head_qh3_cannot_code_goes_literal(session: H3Session) -> None:
    big = [(b":method", b"GET"), (b":scheme", b"https"), (b":authority", b"a"),
           (b":path", b"/"), (b"cookie", b"c" * 20_000)]
    session.send_headers(4, big, True)  # (qh3's coder refuses fields over 4 KiB coded)
    session.send_headers(8, big[:4], True)  # the connection keeps to literal lines
    assert session._encoder is None


# --- responses ----------------------------------------------------------------------------

WIRE = (
    headers(HEAD)
    + frame(0x21, b"grease")  # a reserved type: skipped
    + data(b"hello ")
    + frame(0x5A5A, b"")  # unknown, empty
    + data(b"world")
    + headers([(b"x-checksum", b"abc")])
)


def test_a_response_in_one_piece(session: H3Session) -> None:
    assert response(feed(session, SID, WIRE, fin=True)) == (
        HEAD, b"hello world", [(b"x-checksum", b"abc")], True
    )


def test_a_response_cut_at_every_byte_parses_the_same(session: H3Session) -> None:
    events: list[Event] = []
    for i in range(len(WIRE)):
        events += feed(session, SID, WIRE[i:i + 1], fin=i == len(WIRE) - 1)
    assert response(events) == (HEAD, b"hello world", [(b"x-checksum", b"abc")], True)


def test_a_large_head_in_small_pieces_arrives_whole(session: H3Session) -> None:
    big = [(b":status", b"200"), *((b"x-big-%d" % i, b"v" * 2000) for i in range(200))]
    wire = headers(big)
    events: list[Event] = []
    for i in range(0, len(wire), 1200):
        events += feed(session, SID, wire[i:i + 1200], fin=i + 1200 >= len(wire))
    assert events == [Head(SID, big, True)]


def test_a_lone_fin_ends_the_body(session: H3Session) -> None:
    first = feed(session, SID, headers(HEAD) + data(b"x"))
    assert response(first)[3] is False
    assert feed(session, SID, b"", fin=True) == [Data(SID, b"", True)]


def test_a_head_with_the_fin_is_the_whole_response(session: H3Session) -> None:
    assert feed(session, SID, headers(HEAD), fin=True) == [Head(SID, HEAD, True)]


def test_informational_heads_are_skipped(session: H3Session) -> None:
    events = feed(session, SID, headers([(b":status", b"103")]) + headers(HEAD), fin=True)
    assert events == [Head(SID, HEAD, True)]


def test_what_follows_the_trailers_is_dropped(session: H3Session) -> None:
    wire = headers(HEAD) + headers([(b"x-t", b"1")])
    assert feed(session, SID, wire + data(b"late"), fin=True)[-1] == Trailers(SID, [(b"x-t", b"1")])


def test_a_response_ending_before_its_head_is_malformed(session: H3Session) -> None:
    assert feed(session, SID, frame(0x21, b""), fin=True) == [
        Malformed(SID, "the response ended before its head")
    ]


def test_a_reset_request_stream_is_reported_once(session: H3Session) -> None:
    out: list[Event] = []
    session.stream_reset(SID, 0x10C, out)
    session.stream_reset(SID, 0x10C, out)
    assert out == [Reset(SID, 0x10C)]
    assert feed(session, SID, headers(HEAD), fin=True) == []  # (late bytes are dropped)


def test_stop_sending_on_a_request_is_reported(session: H3Session) -> None:
    out: list[Event] = []
    session.stop_sending(SID, 0x100, out)
    assert out == [StopSending(SID, 0x100)]


# --- what breaks the connection -----------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "code"),
    [
        (data(b"x"), H3_FRAME_UNEXPECTED),  # DATA before the head
        (headers(HEAD) + frame(0x4, b""), H3_FRAME_UNEXPECTED),  # SETTINGS on a request
        (headers(HEAD) + frame(0x5, b"\x00"), H3_FRAME_UNEXPECTED),  # PUSH_PROMISE
        (frame(0x1, b"\xff\xff\xff"), QPACK_DECOMPRESSION_FAILED),
        (frame(0x1, b""), QPACK_DECOMPRESSION_FAILED),  # an empty field section
    ],
)
def test_request_stream_violations_close_the_connection(
    session: H3Session, wire: bytes, code: int
) -> None:
    assert closed(feed(session, SID, wire, fin=True)) == code
    assert session.broken


def test_a_frame_cut_by_the_stream_end_is_a_frame_error(session: H3Session) -> None:
    cut = headers(HEAD) + data(b"hello")[:-2]
    assert closed(feed(session, SID, cut, fin=True)) == H3_FRAME_ERROR


def test_a_broken_connection_reports_nothing_more(session: H3Session) -> None:
    closed(feed(session, SID, data(b"x")))
    assert feed(session, CONTROL, SETTINGS) == []


def test_a_server_opened_request_stream_is_refused(session: H3Session) -> None:
    assert closed(feed(session, 1, headers(HEAD))) == H3_STREAM_CREATION_ERROR


@pytest.mark.parametrize(
    ("wire", "code"),
    [
        (encode_varint(0x0) + frame(0x7, b"\x00"), H3_MISSING_SETTINGS),
        (SETTINGS + frame(0x4, b""), H3_FRAME_UNEXPECTED),  # SETTINGS twice
        (SETTINGS + data(b""), H3_FRAME_UNEXPECTED),
        (encode_varint(0x0) + frame(0x4, b"\x02\x00"), H3_SETTINGS_ERROR),  # HTTP/2's id 0x2
        (encode_varint(0x0) + frame(0x4, b"\x06\x01\x06\x01"), H3_SETTINGS_ERROR),  # repeated
        (SETTINGS + frame(0x7, b"\x01"), H3_ID_ERROR),  # GOAWAY naming a server stream
        (SETTINGS + frame(0x7, b"\x00\x00"), H3_FRAME_ERROR),  # ... with bytes to spare
    ],
)
def test_control_stream_violations_close_the_connection(
    session: H3Session, wire: bytes, code: int
) -> None:
    assert closed(feed(session, CONTROL, wire)) == code


def test_goaway_is_reported_and_may_only_shrink(session: H3Session) -> None:
    assert feed(session, CONTROL, SETTINGS + frame(0x7, encode_varint(8))) == [GoAway(8)]
    assert feed(session, CONTROL, frame(0x7, encode_varint(4))) == [GoAway(4)]
    assert closed(feed(session, CONTROL, frame(0x7, encode_varint(8)))) == H3_ID_ERROR


def test_a_control_stream_may_arrive_in_pieces(session: H3Session) -> None:
    wire = SETTINGS + frame(0x7, encode_varint(16384))
    events: list[Event] = []
    for i in range(len(wire)):
        events += feed(session, CONTROL, wire[i:i + 1])
    assert events == [GoAway(16384)]


def test_a_second_control_stream_is_refused(session: H3Session) -> None:
    assert feed(session, CONTROL, SETTINGS) == []
    assert closed(feed(session, 15, encode_varint(0x0))) == H3_STREAM_CREATION_ERROR


def test_a_push_stream_is_refused(session: H3Session) -> None:
    assert closed(feed(session, PUSH, encode_varint(0x1) + b"\x00")) == H3_ID_ERROR


def test_unknown_stream_types_are_ignored(session: H3Session) -> None:
    assert feed(session, PUSH, encode_varint(0x21) + b"anything", fin=True) == []


@pytest.mark.parametrize("sid", [CONTROL, ENCODER])
def test_a_critical_stream_may_not_end(session: H3Session, sid: int) -> None:
    kind = encode_varint(0x0 if sid == CONTROL else 0x2)
    assert feed(session, sid, kind + (SETTINGS[1:] if sid == CONTROL else b"")) == []
    assert closed(feed(session, sid, b"", fin=True)) == H3_CLOSED_CRITICAL_STREAM


def test_a_critical_stream_may_not_be_reset(session: H3Session) -> None:
    feed(session, CONTROL, SETTINGS)
    out: list[Event] = []
    session.stream_reset(CONTROL, 0x100, out)
    assert closed(out) == H3_CLOSED_CRITICAL_STREAM


def test_our_critical_streams_may_not_be_stopped(session: H3Session) -> None:
    out: list[Event] = []
    session.stop_sending(2, 0x100, out)  # our control stream
    assert closed(out) == H3_CLOSED_CRITICAL_STREAM
