"""H2State's request paths (pyqwest._h2.library): `send_headers` for a request head and
`send_data` for body data build their frames in C, but what they send, the state they leave and
the errors they raise are h2's own, byte for byte and state for state."""

from __future__ import annotations

import h2.connection
import h2.exceptions
import pytest

from cpqwest._h2frames import data_frame_head, header_block_frames
from pyqwest._h2 import library
from pyqwest._h2.core import MAX_FRAME_SIZE, SETTINGS

HEAD = [
    (":method", "GET"), (":scheme", "https"), (":authority", "example.test:8443"),
    (":path", "/tiny"), ("accept", "*/*"), ("user-agent", "pyqwest"),
]
LARGE = [*HEAD, ("x-large", "v" * 40_000)]  # over 16 KiB: HEADERS + 2 CONTINUATION frames
HEAD_BYTES = [(n.encode(), v.encode()) for n, v in HEAD]
HEAD_METHOD = [(":method", "HEAD"), *HEAD[1:]]


def pair() -> tuple[library.H2State, library.H2State]:
    """Two fresh connections in the same state, their prefaces taken."""
    ours, theirs = (library.new_state(SETTINGS, MAX_FRAME_SIZE) for _ in range(2))
    ours.data_to_send()
    theirs.data_to_send()
    return ours, theirs


def h2_send(h: library.H2State, sid: int, headers: list, end_stream: bool) -> None:
    h2.connection.H2Connection.send_headers(h, sid, headers, end_stream=end_stream)


@pytest.mark.parametrize("headers", [HEAD, LARGE, HEAD_BYTES, HEAD_METHOD],
                         ids=["small", "continuation", "bytes", "head-method"])
@pytest.mark.parametrize("end_stream", [True, False])
def test_a_request_head_is_what_h2_sends(headers, end_stream) -> None:
    ours, theirs = pair()
    for sid in (1, 3):  # the second one indexes what the first added to the HPACK table
        ours.send_headers(sid, headers, end_stream=end_stream)
        h2_send(theirs, sid, headers, end_stream)
        assert ours.data_to_send() == theirs.data_to_send()
        a, b = ours.streams[sid], theirs.streams[sid]
        assert (a.state_machine.state, a.request_method, a._authority) == (
            b.state_machine.state, b.request_method, b._authority)
    assert ours.state_machine.state == theirs.state_machine.state
    assert ours.highest_outbound_stream_id == theirs.highest_outbound_stream_id


def test_trailers_take_h2s_own_path() -> None:
    ours, theirs = pair()
    ours.send_headers(1, HEAD)
    h2_send(theirs, 1, HEAD, False)
    ours.send_headers(1, [("x-sum", "5")], end_stream=True)
    h2_send(theirs, 1, [("x-sum", "5")], True)
    assert ours.data_to_send() == theirs.data_to_send()
    assert ours.streams[1].state_machine.state == theirs.streams[1].state_machine.state


def test_header_block_frames_split_at_the_frame_size() -> None:
    frames = header_block_frames(5, b"a" * 10, True, 4)
    assert frames == (
        b"\x00\x00\x04\x01\x01\x00\x00\x00\x05aaaa"     # HEADERS, END_STREAM
        b"\x00\x00\x04\x09\x00\x00\x00\x00\x05aaaa"     # CONTINUATION
        b"\x00\x00\x02\x09\x04\x00\x00\x00\x05aa"       # CONTINUATION, END_HEADERS
    )


def windows(h: library.H2State, sid: int) -> tuple[int, int, object]:
    s = h.streams[sid]
    return h.outbound_flow_control_window, s.outbound_flow_control_window, s.state_machine.state


@pytest.mark.parametrize("end_stream", [True, False])
@pytest.mark.parametrize("kind", [bytes, memoryview])
def test_body_data_is_what_h2_sends(end_stream, kind) -> None:
    ours, theirs = pair()
    for h in (ours, theirs):
        h.send_headers(1, HEAD)
        h.data_to_send()
    ours.send_data(1, kind(b"a" * 1000))
    h2.connection.H2Connection.send_data(theirs, 1, kind(b"a" * 1000))
    ours.send_data(1, kind(b"b" * 10), end_stream=end_stream)
    h2.connection.H2Connection.send_data(theirs, 1, kind(b"b" * 10), end_stream=end_stream)
    assert ours.data_to_send() == theirs.data_to_send()
    assert windows(ours, 1) == windows(theirs, 1)


@pytest.mark.parametrize("size", [65_536, 1 << 15], ids=["over-window", "over-frame-size"])
def test_body_data_over_a_limit_fails_as_in_h2(size) -> None:
    ours, theirs = pair()
    for h in (ours, theirs):
        h.send_headers(1, HEAD)
        h.data_to_send()
    with pytest.raises(h2.exceptions.ProtocolError) as expected:
        h2.connection.H2Connection.send_data(theirs, 1, b"x" * size)
    with pytest.raises(type(expected.value), match=str(expected.value)):
        ours.send_data(1, b"x" * size)
    assert windows(ours, 1) == windows(theirs, 1)


def test_body_data_after_the_end_fails_as_in_h2() -> None:
    ours, theirs = pair()
    for h in (ours, theirs):
        h.send_headers(1, HEAD, end_stream=True)
    with pytest.raises(h2.exceptions.ProtocolError) as expected:
        h2.connection.H2Connection.send_data(theirs, 1, b"x")
    with pytest.raises(type(expected.value), match=str(expected.value)):
        ours.send_data(1, b"x")


def test_data_frame_head() -> None:
    assert data_frame_head(3, 258, True) == b"\x00\x01\x02\x00\x01\x00\x00\x00\x03"
