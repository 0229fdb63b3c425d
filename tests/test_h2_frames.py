"""cpqwest._h2frames.FrameReader, the compiled stand-in for h2's FrameBuffer: the frames it builds
are what hyperframe would parse from the same bytes, the header-block rule and the errors are
h2's, and a frame over the size limit fails as soon as its header arrives."""

from __future__ import annotations

import h2.exceptions
import pytest
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    HeadersFrame,
    PingFrame,
    WindowUpdateFrame,
)

from cpqwest._h2frames import CONTINUATION_LIMIT, FrameReader

LIMIT = 1 << 14


def read(*chunks: bytes, limit: int = LIMIT) -> list[Frame]:
    reader = FrameReader()
    reader.max_frame_size = limit
    frames: list[Frame] = []
    for chunk in chunks:
        reader.add_data(chunk)
        frames.extend(reader)
    return frames


def data(stream_id: int, body: bytes, *flags: str, pad: int = 0) -> DataFrame:
    f = DataFrame(stream_id, body, flags=flags)
    if pad:
        f.flags.add("PADDED")
        f.pad_length = pad
    return f


def headers(stream_id: int, block: bytes, *flags: str) -> HeadersFrame:
    return HeadersFrame(stream_id, block, flags=flags)


def same(got: Frame, sent: Frame) -> bool:
    """What h2 reads of a received frame, the same as hyperframe's own parse of its bytes."""
    parsed, length = Frame.parse_frame_header(memoryview(sent.serialize()[:9]))
    parsed.parse_body(memoryview(sent.serialize()[9:9 + length]))
    names = ("END_STREAM", "END_HEADERS", "PADDED", "PRIORITY", "ACK")
    fields = ("stream_id", "data", "window_increment", "flow_controlled_length", "opaque_data")
    return (
        isinstance(got, type(parsed))
        and all((n in got.flags) == (n in parsed.flags) for n in names)
        and all(getattr(got, a, None) == getattr(parsed, a, None) for a in fields)
    )


@pytest.mark.parametrize(
    "frame",
    [
        data(1, b"body"),
        data(3, b"", "END_STREAM"),
        data(5, b"x" * LIMIT, "END_STREAM"),
        headers(1, b"\x88", "END_HEADERS"),
        headers(7, b"\x88\x0f\x10", "END_HEADERS", "END_STREAM"),
        WindowUpdateFrame(0, 65535),
        WindowUpdateFrame(9, 2**31 - 1),
        data(1, b"padded", "END_STREAM", pad=4),  # these three: hyperframe parses them
        PingFrame(0, b"12345678"),
        HeadersFrame(1, b"\x88", flags=("END_HEADERS", "PRIORITY"), depends_on=3,
                     stream_weight=15),
    ],
    ids=lambda f: type(f).__name__ + "-" + "-".join(sorted(f.flags)),
)
def test_a_frame_reads_as_hyperframe_parses_it(frame: Frame) -> None:
    (got,) = read(frame.serialize())
    assert same(got, frame)


def test_frames_split_anywhere_read_the_same() -> None:
    sent = [headers(1, b"\x88", "END_HEADERS"), data(1, b"a" * 100), data(1, b"", "END_STREAM"),
            WindowUpdateFrame(0, 1000)]
    wire = b"".join(f.serialize() for f in sent)
    got = read(*(wire[i:i + 1] for i in range(len(wire))))
    assert len(got) == len(sent)
    assert all(same(g, s) for g, s in zip(got, sent, strict=True))


def test_a_header_block_is_one_headers_frame() -> None:
    block = [headers(1, b"ab", "END_STREAM"), ContinuationFrame(1, b"cd"),
             ContinuationFrame(1, b"ef", flags=("END_HEADERS",))]
    (got,) = read(b"".join(f.serialize() for f in block))
    assert isinstance(got, HeadersFrame)
    assert got.data == b"abcdef"
    assert "END_HEADERS" in got.flags and "END_STREAM" in got.flags


@pytest.mark.parametrize(
    "intruder", [data(1, b"x"), ContinuationFrame(3, b"x", flags=("END_HEADERS",))],
    ids=["data", "other-stream"],
)
def test_only_its_continuation_may_follow_an_open_header_block(intruder: Frame) -> None:
    with pytest.raises(h2.exceptions.ProtocolError, match="Invalid frame during header block"):
        read(headers(1, b"ab").serialize() + intruder.serialize())


def test_a_header_block_of_too_many_frames_is_a_protocol_error() -> None:
    wire = headers(1, b"a").serialize() + ContinuationFrame(1, b"a").serialize() * (
        CONTINUATION_LIMIT)
    with pytest.raises(h2.exceptions.ProtocolError, match="Too many continuation frames"):
        read(wire)


def test_an_overlong_frame_fails_on_its_header_alone() -> None:
    """The reader does not buffer the body of a frame it will refuse."""
    wire = data(1, b"x" * (LIMIT + 1)).serialize()
    with pytest.raises(h2.exceptions.FrameTooLargeError, match="length 16385, max 16384"):
        read(wire[:9])


def test_a_zero_window_increment_is_a_protocol_error() -> None:
    wire = WindowUpdateFrame(1, 1).serialize()[:9] + b"\0\0\0\0"
    with pytest.raises(h2.exceptions.ProtocolError, match="non-compliant data"):
        read(wire)
