"""cpqwest._h2core.H2Core, the client side of HTTP/2 without I/O: paired in memory with the h2
library's server side (what it sends, h2 understands, and the other way round), and fed crafted
frames for every connection and stream error it must detect."""

from __future__ import annotations

import random
import struct
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
import hpack
import pytest
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    PriorityFrame,
    PushPromiseFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpqwest._h2core import H2Core, ProtocolError, StreamState, UsageError

STREAM_WINDOW = 4 << 20
CONN_WINDOW = 16 << 20
MAX_FRAME = 1 << 18
REQUEST = [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", "/")]


class Stream(StreamState):
    """Records what the core tells a stream."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def _on_head(self, status: int, fields: list[tuple[str, str]]) -> None:
        self.events.append(("head", status, fields))

    def _on_data(self, data: bytes, flow_len: int) -> None:
        self.events.append(("data", data, flow_len))

    def _on_trailers(self, fields: list[tuple[str, str]]) -> None:
        self.events.append(("trailers", fields))

    def _on_end(self) -> None:
        self.events.append(("end", self.closed))

    def _on_reset(self, code: int) -> None:
        self.events.append(("reset", code))

    def _on_stream_error(self, code: int, text: str) -> None:
        self.events.append(("error", code, text))

    def _wake_sender(self) -> None:
        self.events.append(("window",))

    def body(self) -> bytes:
        return b"".join(e[1] for e in self.events if e[0] == "data")


class Owner:
    """Records what the core tells its connection."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def _on_settings(self) -> None:
        self.events.append(("settings",))

    def _on_window(self) -> None:
        self.events.append(("window",))

    def _on_goaway(self, code: int, last_stream_id: int) -> None:
        self.events.append(("goaway", code, last_stream_id))

    def _stream_closed(self, stream: Stream) -> None:
        self.events.append(("closed", stream.id))


def new_core(
    stream_window: int = STREAM_WINDOW,
    conn_window: int = CONN_WINDOW,
    ack_batch: int = CONN_WINDOW // 4,
) -> tuple[H2Core, Owner]:
    owner = Owner()
    core = H2Core(owner, stream_window, conn_window, MAX_FRAME, 256 << 10, 100, ack_batch)
    core.initiate()
    return core, owner


class Pair:
    """Our core and h2's server side, wired back to back in memory."""

    def __init__(self, server_settings: dict[int, int] | None = None, **core_kw: Any) -> None:
        self.core, self.owner = new_core(**core_kw)
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self.server = h2.connection.H2Connection(config)
        if server_settings:
            self.server.local_settings = h2.settings.Settings(
                client=False, initial_values=server_settings
            )
        self.server.initiate_connection()
        self.server_events: list[Any] = []
        self.pump()

    def pump(self, chunk: int = 0) -> None:
        """Move bytes both ways until neither side has anything to send (`chunk`: feed the
        core that many bytes at a time)."""
        while True:
            out = self.core.data_to_send()
            if out:
                self.server_events += self.server.receive_data(out)
            back = self.server.data_to_send()
            if back:
                if chunk:
                    for i in range(0, len(back), chunk):
                        self.core.receive_data(back[i : i + chunk])
                else:
                    self.core.receive_data(back)
            if not out and not back:
                return

    def request(self, end_stream: bool = True, headers: list[Any] | None = None) -> Stream:
        s = Stream()
        self.core.open_stream(s, headers or REQUEST, end_stream)
        self.pump()
        return s

    def events(self, cls: type) -> list[Any]:
        return [e for e in self.server_events if isinstance(e, cls)]

    def send_body(self, stream_id: int, data: bytes, end_stream: bool = False) -> None:
        """The server sends `data` in frames of its largest size."""
        size = self.server.max_outbound_frame_size
        for i in range(0, len(data), size):
            last = i + size >= len(data)
            self.server.send_data(stream_id, data[i : i + size], end_stream=end_stream and last)


def frames(data: bytes) -> list[Frame]:
    out = []
    while data:
        frame, length = Frame.parse_frame_header(memoryview(data[:9]))
        frame.parse_body(memoryview(data[9 : 9 + length]))
        out.append(frame)
        data = data[9 + length :]
    return out


def sent_frames(core: H2Core) -> list[Frame]:
    data = core.data_to_send()
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    return frames(data[len(preface) :] if data.startswith(preface) else data)


def ready_core(**kw: Any) -> tuple[H2Core, Owner]:
    """A core past the server's SETTINGS, with what it sent so far taken."""
    core, owner = new_core(**kw)
    core.receive_data(SettingsFrame(0).serialize())
    core.data_to_send()
    return core, owner


def open_one(core: H2Core, end_stream: bool = True) -> Stream:
    s = Stream()
    core.open_stream(s, REQUEST, end_stream)
    core.data_to_send()
    return s


def head_block(status: bytes = b"200", *extra: tuple[bytes, bytes]) -> bytes:
    return hpack.Encoder().encode([(b":status", status), *extra])


# --- exchanges with h2's server side ----------------------------------------------------------


def test_preface_and_settings() -> None:
    p = Pair(server_settings={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 7})
    remote = p.server.remote_settings
    assert remote.initial_window_size == STREAM_WINDOW
    assert remote.max_frame_size == MAX_FRAME
    assert remote.enable_push == 0
    assert remote.max_header_list_size == 256 << 10
    assert p.server.outbound_flow_control_window == CONN_WINDOW
    assert ("settings",) in p.owner.events
    assert p.core.max_concurrent_streams == 7
    assert p.events(h2.events.SettingsAcknowledged)


def test_get_exchange_closes_the_stream_without_a_reset() -> None:
    p = Pair()
    s = p.request()
    (req,) = p.events(h2.events.RequestReceived)
    assert req.headers == [(k.encode(), v.encode()) for k, v in REQUEST]
    assert p.events(h2.events.StreamEnded)
    p.server.send_headers(s.id, [(":status", "200"), ("content-length", "2")])
    p.server.send_data(s.id, b"ok", end_stream=True)
    p.pump()
    assert s.events == [
        ("head", 200, [("content-length", "2")]),
        ("data", b"ok", 2),
        ("end", True),  # closed before the owner hears of the end
    ]
    assert p.owner.events[-1] == ("closed", 1)
    assert s.closed and s.sent_end and s.recv_end and not p.core.streams
    assert not p.events(h2.events.StreamReset)


def test_stream_ids_and_concurrent_streams() -> None:
    p = Pair()
    streams = [Stream() for _ in range(64)]
    for s in streams:
        p.core.open_stream(s, REQUEST, True)
    p.pump()
    assert [s.id for s in streams] == list(range(1, 128, 2))
    assert len(p.events(h2.events.RequestReceived)) == 64
    for s in reversed(streams):
        p.server.send_headers(s.id, [(":status", "204")], end_stream=True)
    p.pump()
    assert all(s.events[-1] == ("end", True) for s in streams) and not p.core.streams


def test_upload_respects_windows_and_wakes_the_sender() -> None:
    p = Pair()
    s = p.request(end_stream=False)
    assert p.core.flow_window(s) == 65535  # h2's defaults until it says otherwise
    sent = 0
    while (n := min(p.core.flow_window(s), p.core.max_outbound_frame_size)) > 0:
        p.core.send_data(s, b"x" * n)
        sent += n
    assert sent == 65535
    with pytest.raises(UsageError):
        p.core.send_data(s, b"x")
    p.pump()
    data = p.events(h2.events.DataReceived)
    assert sum(e.flow_controlled_length for e in data) == 65535
    p.server.acknowledge_received_data(65535, s.id)
    p.pump()
    assert ("window",) in s.events and ("window",) in p.owner.events
    assert p.core.flow_window(s) == 65535
    p.core.send_data(s, b"end", True)
    p.pump()
    assert p.events(h2.events.StreamEnded)


def test_initial_window_change_applies_to_open_streams() -> None:
    p = Pair()
    s = p.request(end_stream=False)
    p.core.send_data(s, b"x" * 1000)
    p.server.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 100})
    p.pump()
    assert p.core.flow_window(s) == 100 - 1000  # may go below 0 (RFC 9113 §6.9.2)
    p.server.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 70000})
    p.pump()
    assert p.core.flow_window(s) == 65535 - 1000  # now the connection's window is smaller
    p.server.increment_flow_control_window(10000)
    p.pump()
    assert p.core.flow_window(s) == 69000


def test_max_frame_size_and_continuation_both_ways() -> None:
    p = Pair(server_settings={h2.settings.SettingCodes.MAX_FRAME_SIZE: 16384})
    big = "v" * 40000
    s = p.request(headers=[*REQUEST, ("x-big", big)])
    (req,) = p.events(h2.events.RequestReceived)
    assert (b"x-big", big.encode()) in req.headers
    p.server.send_headers(s.id, [(":status", "200"), ("x-big", big)], end_stream=True)
    p.pump()
    assert s.events[0] == ("head", 200, [("x-big", big)])
    assert s.events[-1] == ("end", True)
    p.server.update_settings({h2.settings.SettingCodes.MAX_FRAME_SIZE: 20000})
    p.pump()
    assert p.core.max_outbound_frame_size == 20000


def test_download_beyond_the_stream_window_needs_acknowledgement() -> None:
    p = Pair()
    s = p.request()
    p.server.send_headers(s.id, [(":status", "200")])
    p.send_body(s.id, b"y" * STREAM_WINDOW)
    assert p.server.local_flow_control_window(s.id) == 0
    p.pump()
    assert len(s.body()) == STREAM_WINDOW
    p.core.acknowledge(s, STREAM_WINDOW)
    p.pump()
    assert p.server.local_flow_control_window(s.id) == min(
        STREAM_WINDOW, p.server.outbound_flow_control_window
    )


def test_connection_window_is_acknowledged_in_batches() -> None:
    p = Pair()
    streams = [p.request() for _ in range(3)]
    for s in streams:
        p.server.send_headers(s.id, [(":status", "200")])
        p.send_body(s.id, b"z" * (2 << 20), end_stream=True)
        p.pump()
    # 6 MiB received, one batch of 4 MiB acknowledged for the connection (at the end of the
    # read that reached it); streams are the consumer's to acknowledge
    assert p.server.outbound_flow_control_window == CONN_WINDOW - (6 << 20) + (4 << 20)
    assert all(len(s.body()) == 2 << 20 for s in streams)


def test_padded_data_counts_padding_for_flow_control() -> None:
    p = Pair()
    s = p.request()
    p.server.send_headers(s.id, [(":status", "200")])
    p.server.send_data(s.id, b"abc", end_stream=True, pad_length=20)
    p.pump()
    assert s.events[1] == ("data", b"abc", 24)


def test_trailers_and_informational_responses() -> None:
    p = Pair()
    s = p.request()
    p.server.send_headers(s.id, [(":status", "103"), ("link", "</a>")])
    p.server.send_headers(s.id, [(":status", "200")])
    p.server.send_data(s.id, b"body")
    p.server.send_headers(s.id, [("x-trailer", "t")], end_stream=True)
    p.pump()
    assert s.events == [
        ("head", 200, []),
        ("data", b"body", 4),
        ("trailers", [("x-trailer", "t")]),
        ("end", True),
    ]


def test_ping_is_answered() -> None:
    p = Pair()
    p.server.ping(b"12345678")
    p.pump()
    (ack,) = p.events(h2.events.PingAckReceived)
    assert ack.ping_data == b"12345678"


def test_reset_by_the_server() -> None:
    p = Pair()
    s = p.request()
    p.server.reset_stream(s.id, 8)
    p.pump()
    assert s.events == [("reset", 8)] and s.closed
    assert ("closed", s.id) in p.owner.events


def test_frames_on_a_stream_we_reset_are_dropped() -> None:
    p = Pair()
    s = p.request()
    p.server.send_headers(s.id, [(":status", "200")])
    p.server.send_data(s.id, b"q" * 1000)
    server_bytes = p.server.data_to_send()
    p.core.reset_stream(s, 8)
    assert s.closed and ("closed", s.id) in p.owner.events
    p.core.receive_data(server_bytes)  # crossed our RST_STREAM: dropped
    assert s.events == []
    p.pump()
    (reset,) = p.events(h2.events.StreamReset)
    assert reset.error_code == 8
    # the HPACK context survived: the next response decodes
    s2 = p.request()
    p.server.send_headers(s2.id, [(":status", "200")], end_stream=True)
    p.pump()
    assert s2.events == [("head", 200, []), ("end", True)]


def test_goaway_from_the_server() -> None:
    p = Pair()
    s1 = p.request()
    s2 = p.request()
    p.server.close_connection(error_code=0, last_stream_id=s1.id)
    p.pump()
    assert ("goaway", 0, s1.id) in p.owner.events
    assert p.core.goaway_received
    with pytest.raises(UsageError):
        p.core.open_stream(Stream(), REQUEST, True)
    # stream 1 still completes (the owner drops stream 3)
    p.core.discard(s2)
    assert s2.closed and ("closed", s2.id) in p.owner.events
    p.core.receive_data(
        HeadersFrame(s1.id, head_block(), flags=["END_HEADERS", "END_STREAM"]).serialize()
    )
    assert s1.events[-1] == ("end", True)


def test_close_connection_sends_goaway_once() -> None:
    core, _ = ready_core()
    core.close_connection()
    core.close_connection(2)
    (goaway,) = sent_frames(core)
    assert isinstance(goaway, GoAwayFrame) and goaway.error_code == 0
    assert core.dead
    with pytest.raises(UsageError):
        core.open_stream(Stream(), REQUEST, True)


@pytest.mark.parametrize("seed", range(6))
def test_any_split_of_the_input_gives_the_same_events(seed: int) -> None:
    rnd = random.Random(seed)
    script = Pair()
    s = script.request()
    script.server.send_headers(s.id, [(":status", "200"), ("x", "y" * 100)])
    for i in range(5):
        script.server.send_data(s.id, bytes([i]) * rnd.randint(0, 5000), pad_length=i)
    script.server.ping(b"pingping")
    script.server.send_headers(s.id, [("x-t", "1")], end_stream=True)
    data = script.server.data_to_send()
    script.core.receive_data(data)
    expected = s.events

    for mode in ("data_received", "buffered"):
        p = Pair()
        s = p.request()
        pos = 0
        while pos < len(data):
            n = rnd.choice([1, 2, 9, 10, 100, 4096, len(data)])
            piece = data[pos : pos + n]
            if mode == "data_received":
                p.core.receive_data(piece)
            else:
                buf = p.core.get_buffer()
                piece = piece[: len(buf)]
                buf[: len(piece)] = piece
                p.core.buffer_updated(len(piece))
            pos += len(piece)
        assert s.events == expected
        assert any(
            isinstance(f, PingFrame) and "ACK" in f.flags for f in frames(p.core.data_to_send())
        )


# --- connection errors ------------------------------------------------------------------------

H = HeadersFrame


def _settings_frame(payload: bytes, flags: tuple[str, ...] = ()) -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([4, 1 if flags else 0]) + b"\0" * 4 + payload


CONNECTION_ERRORS: dict[str, tuple[list[Any], int]] = {
    "data on stream 0": ([b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x"], 1),
    "headers on an idle stream": ([H(5, head_block(), flags=["END_HEADERS"]).serialize()], 1),
    "frame on a server-initiated stream": ([RstStreamFrame(2, error_code=0).serialize()], 1),
    "frame over our max frame size": ([DataFrame(1, b"x" * (MAX_FRAME + 1)).serialize()], 6),
    "continuation without headers": (
        [ContinuationFrame(1, data=b"", flags=["END_HEADERS"]).serialize()],
        1,
    ),
    "header block interrupted": (
        [H(1, head_block()).serialize(), DataFrame(1, b"x").serialize()],
        1,
    ),
    "continuation on another stream": (
        [
            H(1, head_block()).serialize(),
            ContinuationFrame(3, data=b"", flags=["END_HEADERS"]).serialize(),
        ],
        1,
    ),
    "push promise": (
        [
            PushPromiseFrame(
                1, promised_stream_id=2, data=head_block(), flags=["END_HEADERS"]
            ).serialize()
        ],
        1,
    ),
    "settings on a stream": ([b"\x00\x00\x00\x04\x00\x00\x00\x00\x01"], 1),
    "settings of a wrong size": ([_settings_frame(b"\x00\x03\x00\x00")], 6),
    "settings ack with payload": ([_settings_frame(b"\x00" * 6, ("ACK",))], 6),
    "bad max frame size": ([SettingsFrame(0, settings={5: 100}).serialize()], 1),
    "initial window over 2**31-1": ([SettingsFrame(0, settings={4: 1 << 31}).serialize()], 3),
    "enable push of 2": ([SettingsFrame(0, settings={2: 2}).serialize()], 1),
    "ping of a wrong size": ([b"\x00\x00\x04\x06\x00\x00\x00\x00\x00abcd"], 6),
    "ping on a stream": ([b"\x00\x00\x08\x06\x00\x00\x00\x00\x01abcdefgh"], 1),
    "window update of 0 for the connection": (
        [b"\x00\x00\x04\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00"],
        1,
    ),
    "connection window over 2**31-1": (
        [WindowUpdateFrame(0, window_increment=(1 << 31) - 1).serialize()],
        3,
    ),
    "window update of a wrong size": ([b"\x00\x00\x03\x08\x00\x00\x00\x00\x00\x00\x00\x01"], 6),
    "goaway on a stream": ([b"\x00\x00\x08\x07\x00\x00\x00\x00\x01" + b"\x00" * 8], 1),
    "rst_stream of a wrong size": ([b"\x00\x00\x03\x03\x00\x00\x00\x00\x01\x00\x00\x00"], 6),
    "priority on stream 0": ([b"\x00\x00\x05\x02\x00\x00\x00\x00\x00" + b"\0" * 5], 1),
    "invalid hpack": ([H(1, b"\xff\xff\xff\xff\xff\xff", flags=["END_HEADERS"]).serialize()], 9),
    "data padding over its payload": (
        [
            H(1, head_block(), flags=["END_HEADERS"]).serialize(),
            b"\x00\x00\x02\x00\x08\x00\x00\x00\x01\x05x",
        ],
        1,
    ),
    "headers padding over its payload": ([b"\x00\x00\x02\x01\x0c\x00\x00\x00\x01\x09\x88"], 1),
}


@pytest.mark.parametrize("case", list(CONNECTION_ERRORS))
def test_connection_errors(case: str) -> None:
    chunks, code = CONNECTION_ERRORS[case]
    core, _ = ready_core()
    open_one(core)
    with pytest.raises(ProtocolError) as info:
        for chunk in chunks:
            core.receive_data(chunk)
    assert info.value.code == code
    assert core.dead
    (goaway,) = [f for f in sent_frames(core) if isinstance(f, GoAwayFrame)]
    assert goaway.error_code == code and goaway.last_stream_id == 0
    core.receive_data(b"anything: nothing more is read")


def test_first_frame_must_be_settings() -> None:
    core, _ = new_core()
    with pytest.raises(ProtocolError, match="first frame"):
        core.receive_data(PingFrame(0, opaque_data=b"12345678").serialize())


def test_an_http1_answer_is_a_connection_error() -> None:
    core, _ = new_core()
    with pytest.raises(ProtocolError):
        core.receive_data(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")


def test_connection_flow_control_violation() -> None:
    core, _ = ready_core(conn_window=65535, ack_batch=1 << 30)
    s = open_one(core)
    core.receive_data(H(s.id, head_block(), flags=["END_HEADERS"]).serialize())
    core.receive_data(DataFrame(s.id, b"x" * 65535).serialize())
    with pytest.raises(ProtocolError) as info:
        core.receive_data(DataFrame(s.id, b"x").serialize())
    assert info.value.code == 3


def test_data_after_end_stream_is_a_connection_error() -> None:
    core, _ = ready_core()
    s = open_one(core, end_stream=False)  # our side open: the stream stays
    core.receive_data(H(s.id, head_block(), flags=["END_HEADERS", "END_STREAM"]).serialize())
    with pytest.raises(ProtocolError) as info:
        core.receive_data(DataFrame(s.id, b"late").serialize())
    assert info.value.code == 5


def test_unknown_frames_and_priority_are_ignored() -> None:
    core, _ = ready_core()
    s = open_one(core)
    core.receive_data(b"\x00\x00\x03\xfa\x00\x00\x00\x00\x01abc")  # type 0xfa
    core.receive_data(PriorityFrame(s.id, depends_on=0, stream_weight=5).serialize())
    core.receive_data(PriorityFrame(99, depends_on=0).serialize())  # even on an idle stream
    core.receive_data(
        H(s.id, head_block(), flags=["END_HEADERS", "END_STREAM", "PRIORITY"]).serialize()
    )
    assert s.events == [("head", 200, []), ("end", True)]


# --- stream errors ----------------------------------------------------------------------------

STREAM_ERRORS: dict[str, tuple[list[bytes], int]] = {
    "data before the head": ([DataFrame(1, b"x").serialize()], 1),
    "trailers without end_stream": (
        [
            H(1, head_block(), flags=["END_HEADERS"]).serialize(),
            H(1, b"\x82", flags=["END_HEADERS"]).serialize(),
        ],
        1,
    ),
    "informational response with end_stream": (
        [H(1, head_block(b"100"), flags=["END_HEADERS", "END_STREAM"]).serialize()],
        1,
    ),
    "window update of 0 for a stream": (
        [b"\x00\x00\x04\x08\x00\x00\x00\x00\x01\x00\x00\x00\x00"],
        1,
    ),
    "stream window over 2**31-1": (
        [WindowUpdateFrame(1, window_increment=(1 << 31) - 1).serialize()],
        3,
    ),
    "stream window exceeded": (
        [
            H(1, head_block(), flags=["END_HEADERS"]).serialize(),
            DataFrame(1, b"x" * 1001).serialize(),
        ],
        3,
    ),
}


@pytest.mark.parametrize("case", list(STREAM_ERRORS))
def test_stream_errors(case: str) -> None:
    chunks, code = STREAM_ERRORS[case]
    core, owner = ready_core(stream_window=1000)
    s = open_one(core, end_stream=False)
    other = open_one(core)
    for chunk in chunks:
        core.receive_data(chunk)
    assert s.events[-1][:2] == ("error", code)
    assert s.closed and ("closed", s.id) in owner.events
    (rst,) = sent_frames(core)
    assert isinstance(rst, RstStreamFrame) and rst.stream_id == s.id and rst.error_code == code
    assert not core.dead and other.id in core.streams


MALFORMED = {
    "upper-case name": ([(b":status", b"200"), (b"X-A", b"1")], "invalid header field b'X-A'"),
    "empty name": ([(b":status", b"200"), (b"", b"1")], "invalid header field"),
    "space in name": ([(b":status", b"200"), (b"x a", b"1")], "invalid header field"),
    "cr in value": ([(b":status", b"200"), (b"x-a", b"1\r2")], "invalid header field"),
    "nul in value": ([(b":status", b"200"), (b"x-a", b"\x00")], "invalid header field"),
    "connection field": ([(b":status", b"200"), (b"connection", b"close")], "invalid header"),
    "pseudo after a field": ([(b"x-a", b"1"), (b":status", b"200")], "unexpected pseudo"),
    "two statuses": ([(b":status", b"200"), (b":status", b"200")], "unexpected pseudo"),
    "request pseudo field": ([(b":status", b"200"), (b":path", b"/")], "unexpected pseudo"),
    "no status": ([(b"x-a", b"1")], "response without :status"),
    "status of 2 digits": ([(b":status", b"20")], "invalid :status b'20'"),
    "status not digits": ([(b":status", b"2x0")], "invalid :status"),
    "101 fields": ([(b":status", b"200")] + [(b"x-a", b"1")] * 101, "more than 100 header"),
    "head too large": ([(b":status", b"200"), (b"x-a", b"v" * (256 << 10))], "larger than"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_heads_are_stream_errors(case: str) -> None:
    fields, text = MALFORMED[case]
    core, _ = ready_core()
    s = open_one(core)
    block = hpack.Encoder().encode(fields)
    size = len(block)
    frames_ = [
        H(
            s.id,
            block[:16384],
            flags=["END_STREAM"] if size > 16384 else ["END_HEADERS", "END_STREAM"],
        ).serialize()
    ]
    for i in range(16384, size, 16384):
        last = i + 16384 >= size
        frames_.append(
            ContinuationFrame(
                s.id, data=block[i : i + 16384], flags=["END_HEADERS"] if last else []
            ).serialize()
        )
    for f in frames_:
        core.receive_data(f)
    (event,) = s.events
    assert event[:2] == ("error", 1) and text in event[2]
    (rst,) = sent_frames(core)
    assert isinstance(rst, RstStreamFrame) and rst.error_code == 1


def test_huge_header_list_is_a_connection_error() -> None:
    core, _ = ready_core()
    s = open_one(core)
    # an HPACK bomb: 2500 copies of one indexed 500-byte field, 1.3 MB decoded
    block = hpack.Encoder().encode([(b":status", b"200")] + [(b"x-a", b"v" * 500)] * 2500)
    assert len(block) < 16384
    with pytest.raises(ProtocolError) as info:
        core.receive_data(H(s.id, block, flags=["END_HEADERS"]).serialize())
    assert info.value.code == 11 and "header list larger than" in str(info.value)


def test_endless_continuation_is_a_connection_error() -> None:
    core, _ = ready_core()
    s = open_one(core)
    core.receive_data(H(s.id, b"\x82").serialize())
    with pytest.raises(ProtocolError) as info:
        for _ in range(6):
            core.receive_data(ContinuationFrame(s.id, data=b"\x82" * 200000).serialize())
    assert info.value.code == 11 and "header block larger than" in str(info.value)


def test_pseudo_field_in_trailers_is_a_stream_error() -> None:
    core, _ = ready_core()
    s = open_one(core)
    enc = hpack.Encoder()
    core.receive_data(
        H(s.id, enc.encode([(b":status", b"200")]), flags=["END_HEADERS"]).serialize()
    )
    core.receive_data(
        H(s.id, enc.encode([(b":status", b"200")]), flags=["END_HEADERS", "END_STREAM"]).serialize()
    )
    assert s.events[0] == ("head", 200, [])
    assert s.events[1][:2] == ("error", 1) and "unexpected pseudo" in s.events[1][2]


def test_field_values_are_latin_1() -> None:
    core, _ = ready_core()
    s = open_one(core)
    block = hpack.Encoder().encode([(b":status", b"404"), (b"x-a", b"caf\xe9 \xff")])
    core.receive_data(H(s.id, block, flags=["END_HEADERS", "END_STREAM"]).serialize())
    assert s.events[0] == ("head", 404, [("x-a", "café ÿ")])


# --- sending ----------------------------------------------------------------------------------


def test_frames_we_send() -> None:
    core, _ = ready_core()
    s = open_one(core, end_stream=False)
    s2 = open_one(core, end_stream=False)
    core.send_data(s, memoryview(b"abc"))
    core.acknowledge(s, 10)
    core.end_stream(s)
    core.end_stream(s)  # once only
    with pytest.raises(UsageError):
        core.send_data(s, b"more")
    core.reset_stream(s2, 8)
    core.reset_stream(s2, 2)  # once only
    core.acknowledge(s2, 10)  # closed: nothing
    sent = sent_frames(core)
    assert [type(f).__name__ for f in sent] == [
        "DataFrame",
        "WindowUpdateFrame",
        "DataFrame",
        "RstStreamFrame",
    ]
    assert sent[0].data == b"abc" and "END_STREAM" not in sent[0].flags
    assert sent[1].window_increment == 10 and sent[1].stream_id == s.id
    assert sent[2].data == b"" and "END_STREAM" in sent[2].flags
    assert sent[3].stream_id == s2.id and sent[3].error_code == 8
    assert not core.streams.get(s2.id)


def test_no_window_update_once_the_response_ended() -> None:
    core, _ = ready_core()
    s = open_one(core, end_stream=False)

    def ack_in_on_data(data: bytes, flow_len: int) -> None:
        assert s.recv_end  # told before the data: nothing more will come
        core.acknowledge(s, flow_len)

    s._on_data = ack_in_on_data  # type: ignore[method-assign]
    core.receive_data(H(s.id, head_block(), flags=["END_HEADERS"]).serialize())
    core.receive_data(DataFrame(s.id, b"x" * 100, flags=["END_STREAM"]).serialize())
    core.acknowledge(s, 100)
    assert sent_frames(core) == []


def test_preface_bytes() -> None:
    core, _ = new_core()
    data = core.data_to_send()
    assert data.startswith(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    settings, window = frames(data[24:])
    assert isinstance(settings, SettingsFrame)
    assert settings.settings == {2: 0, 4: STREAM_WINDOW, 5: MAX_FRAME, 6: 256 << 10}
    assert isinstance(window, WindowUpdateFrame)
    assert window.window_increment == CONN_WINDOW - 65535
    assert core.data_to_send() == b""


# --- properties -------------------------------------------------------------------------------

frame_strategy = st.builds(
    lambda ftype, flags, sid, payload: (
        struct.pack(">I", len(payload))[1:]
        + bytes([ftype, flags])
        + struct.pack(">I", sid)
        + payload
    ),
    ftype=st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x42]),
    flags=st.sampled_from([0, 1, 4, 5, 8, 9, 0x20, 0x25, 0x2D, 0xFF]),
    sid=st.sampled_from([0, 1, 2, 3, 5, 0x80000001]),
    payload=st.one_of(
        st.binary(max_size=40),
        st.just(head_block()),
        st.just(b"\x00\x00\x00\x08"),
        st.just(b"\x00\x04\x00\x01\x00\x00"),
    ),
)


def _run(chunks: list[bytes]) -> tuple[list[Any], list[Any], str | None]:
    core, owner = ready_core()
    streams = [open_one(core, end_stream=False), open_one(core)]
    error = None
    try:
        for chunk in chunks:
            core.receive_data(chunk)
    except ProtocolError as exc:
        error = f"{exc.code} {exc}"
        assert core.dead
    return [s.events for s in streams], owner.events, error


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(frame_strategy, max_size=8), st.data())
def test_arbitrary_frames_raise_only_protocol_errors_whatever_the_split(
    frames_: list[bytes], data: Any
) -> None:
    stream = b"".join(frames_)
    whole = _run([stream])
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert _run(pieces) == whole
