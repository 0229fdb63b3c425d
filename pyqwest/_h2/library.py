"""The h2 and hpack library, adapted: configuration, and the subclasses that make it fit.

Each subclass exists for one measured or observed problem; all of them rely on internals of
h2 4.x and hpack 4.x (pinned `<5` in pyproject.toml for that reason):

- `GoawayTolerantStateMachine`: `h2.connection.H2ConnectionStateMachine.process_input`, its
  `state` attribute, `ConnectionInputs.RECV_GOAWAY` and `ConnectionState.CLOSED`; installed as
  the connection's `state_machine` attribute.
- HPACK in C (`cpqwest._hpack`): the connection's `encoder` and `decoder` attributes are
  replaced; h2 calls `encoder.encode(headers)`, sets `encoder.header_table_size`, and calls
  `decoder.decode(data, raw=True)` and sets its `max_header_list_size`,
  `max_allowed_table_size` and `header_table_size`.
- `H2State`: `H2Connection.open_outbound_streams` (a property h2 reads per new stream),
  `_open_streams(remainder)`, `streams`, and the `max_inbound_frame_size` and `local_settings`
  attributes (`new_state`); for frames on streams we reset, `_handle_data_on_closed_stream`,
  `_receive_headers_frame`, `_stream_closed_by` and `StreamClosedBy.SEND_RST_STREAM`; for the
  size of what waits to be sent, `_data_to_send`.
- Request heads (`H2State.send_headers` on a new stream, no priority): h2's connection and
  stream state machines take the same inputs as in h2's own `send_headers`
  (`ConnectionInputs.SEND_HEADERS`, `_begin_new_stream`, `StreamInputs.SEND_HEADERS` and
  `SEND_END_STREAM`), the stream's `request_method` and `_authority` are set as h2 sets them,
  and the frames go to `_data_to_send` as bytes (`cpqwest._h2frames.header_block_frames`)
  instead of hyperframe objects; trailers and prioritised heads take h2's own path.
- Request body data (`H2State.send_data`, unpadded, non-empty, on an open stream): h2's
  window and frame-size checks and errors, its `ConnectionInputs.SEND_DATA`,
  `StreamInputs.SEND_DATA` and `SEND_END_STREAM` inputs and both windows' accounting
  (`outbound_flow_control_window` of the connection and the stream), with the frame header
  built in C and the data appended to `_data_to_send` as is.
- The frame reader in C (`cpqwest._h2frames.FrameReader`): replaces the connection's
  `incoming_buffer` (h2 calls `add_data(data)`, sets `max_frame_size` and iterates it) and
  adds its frame classes to `_frame_dispatch_table` (keyed by a frame's class). The frames it
  builds set the attributes hyperframe's `parse_body` would (`stream_id`, `flags` as a set of
  names, `data`, `pad_length`, `body_len`, priority fields, `window_increment`).
"""

from __future__ import annotations

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import h2.stream
import hyperframe.frame

from cpqwest._h2frames import QUIET_CLASSES, FrameReader, data_frame_head, header_block_frames
from cpqwest._hpack import Decoder as HPACKDecoder
from cpqwest._hpack import Encoder as HPACKEncoder

# The event classes H2Connection dispatches on (compared by identity).
DataReceived = h2.events.DataReceived
ResponseReceived = h2.events.ResponseReceived
StreamEnded = h2.events.StreamEnded
TrailersReceived = h2.events.TrailersReceived
WindowUpdated = h2.events.WindowUpdated
StreamReset = h2.events.StreamReset
RemoteSettingsChanged = h2.events.RemoteSettingsChanged
ConnectionTerminated = h2.events.ConnectionTerminated

_RECV_GOAWAY = h2.connection.ConnectionInputs.RECV_GOAWAY
_CLOSED = h2.connection.ConnectionState.CLOSED
_SENT_RESET = h2.stream.StreamClosedBy.SEND_RST_STREAM
_CONN_SEND_HEADERS = h2.connection.ConnectionInputs.SEND_HEADERS
_CONN_SEND_DATA = h2.connection.ConnectionInputs.SEND_DATA
_SEND_HEADERS = h2.stream.StreamInputs.SEND_HEADERS
_SEND_DATA = h2.stream.StreamInputs.SEND_DATA
_SEND_END_STREAM = h2.stream.StreamInputs.SEND_END_STREAM
_CLIENT_IDS = h2.connection.AllowedStreamIDs.ODD

_CONFIG = h2.config.H2Configuration(
    client_side=True,
    header_encoding=None,
    # request headers come from validated, lower-cased Headers; cpqwest._reqhead does the rest
    validate_outbound_headers=False,
    normalize_outbound_headers=False,
    # checked by headers.response_fields() instead, at a fraction of the cost
    validate_inbound_headers=False,
    normalize_inbound_headers=False,
)


class GoawayTolerantStateMachine(h2.connection.H2ConnectionStateMachine):
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


class H2State(h2.connection.H2Connection):
    """h2's connection, except that it does not walk every stream for each new one, and that
    frames arriving on a stream we reset are dropped without an answer.

    `unacked` counts the connection-level flow-controlled bytes received and not yet credited
    back: the owner returns them in batches (`ack_connection`), those of dropped frames too.
    """

    _sweep_at = 64
    unacked = 0

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

    def send_headers(  # type: ignore[override]
        self,
        stream_id: int,
        headers: list[tuple[str, str]] | list[tuple[bytes, bytes]],
        end_stream: bool = False,
        priority_weight: int | None = None,
        priority_depends_on: int | None = None,
        priority_exclusive: bool | None = None,
    ) -> None:
        """h2's `send_headers`; a request head (a new stream, no priority) costs a third:
        the same state machine inputs, its frames built in C (measured: h2's own path spends
        most of its time on hyperframe objects and per-header checks we have disabled)."""
        if (stream_id in self.streams or priority_weight is not None
                or priority_depends_on is not None or priority_exclusive is not None):
            super().send_headers(stream_id, headers, end_stream, priority_weight,
                                 priority_depends_on, priority_exclusive)
            return
        limit = self.remote_settings.max_concurrent_streams
        value = self.open_outbound_streams
        if value + 1 > limit:
            raise h2.exceptions.TooManyStreamsError(
                f"Max outbound streams is {limit}, {value} open")
        self.state_machine.process_input(_CONN_SEND_HEADERS)
        stream = self._begin_new_stream(stream_id, _CLIENT_IDS)
        machine = stream.state_machine
        machine.process_input(_SEND_HEADERS)
        block = self.encoder.encode(headers)
        if end_stream:
            machine.process_input(_SEND_END_STREAM)
        for name, value_ in headers:
            if name[0] not in _PSEUDO:
                break
            if name == ":method" or name == b":method":
                stream.request_method = _as_bytes(value_)
            elif name == ":authority" or name == b":authority":
                stream._authority = _as_bytes(value_)
        self._data_to_send += header_block_frames(
            stream_id, block, end_stream, self.max_outbound_frame_size)

    def send_data(
        self,
        stream_id: int,
        data: bytes | memoryview,
        end_stream: bool = False,
        pad_length: int | None = None,
    ) -> None:
        """h2's `send_data`; unpadded body data on an open stream without its DataFrame
        object (the same checks, state machine inputs and window accounting)."""
        stream = self.streams.get(stream_id)
        size = len(data)
        if pad_length is not None or stream is None or not size:
            super().send_data(stream_id, data, end_stream, pad_length)
            return
        window = self.local_flow_control_window(stream_id)
        if size > window:
            raise h2.exceptions.FlowControlError(
                f"Cannot send {size} bytes, flow control window is {window}")
        if size > self.max_outbound_frame_size:
            raise h2.exceptions.FrameTooLargeError(
                f"Cannot send frame size {size}, max frame size is "
                f"{self.max_outbound_frame_size}")
        self.state_machine.process_input(_CONN_SEND_DATA)
        machine = stream.state_machine
        machine.process_input(_SEND_DATA)
        if end_stream:
            machine.process_input(_SEND_END_STREAM)
        stream.outbound_flow_control_window -= size
        out = self._data_to_send
        out += data_frame_head(stream_id, size, end_stream)
        out += data
        self.outbound_flow_control_window -= size

    def ack_connection(self) -> None:
        """Credit the connection window with what was received (the owner batches it)."""
        n = self.unacked
        self.unacked = 0
        self.increment_flow_control_window(n)

    # RFC 9113 §5.1: after sending RST_STREAM, frames the peer had in flight for that stream
    # are ignored. h2 answers each with another RST_STREAM (and acks its DATA itself): a
    # reset flood to servers that count them (Apache, nghttpd). Streams h2 reset on its own
    # (a peer's stream error) are closed the same way and get the same quiet.
    def _handle_data_on_closed_stream(
        self,
        events: list[h2.events.Event],
        exc: h2.exceptions.StreamClosedError,
        frame: hyperframe.frame.DataFrame,
    ) -> tuple[list[hyperframe.frame.Frame], list[h2.events.Event]]:
        if self._stream_closed_by(frame.stream_id) is _SENT_RESET:
            self.unacked += frame.flow_controlled_length
            return [], events
        return super()._handle_data_on_closed_stream(events, exc, frame)

    def _receive_headers_frame(
        self, frame: hyperframe.frame.HeadersFrame
    ) -> tuple[list[hyperframe.frame.Frame], list[h2.events.Event]]:
        try:
            return super()._receive_headers_frame(frame)
        except (h2.exceptions.StreamClosedError, h2.exceptions.StreamIDTooLowError):
            # decoded already (the HPACK context stays in step): only the answer is left out
            if self._stream_closed_by(frame.stream_id) is _SENT_RESET:
                return [], []
            raise


_PSEUDO = (":", 58)  # a pseudo-header name's first item: str or bytes


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def queued_bytes(h: h2.connection.H2Connection) -> int:
    """How many bytes h2 has queued to send (`data_to_send` would return them)."""
    return len(h._data_to_send)


def new_state(
    settings: dict[h2.settings.SettingCodes, int], max_frame_size: int
) -> H2State:
    """A client-side h2 connection with our coders and state machine, its preface (with
    `settings`) queued."""
    h = H2State(_CONFIG)
    h.encoder = HPACKEncoder()  # type: ignore[assignment]
    # the limit we advertise, from the start: h2 would raise its decoder's only on a *change*
    # at the SETTINGS ACK, which the initial value is not (heads over 64 KiB failed)
    limit = settings.get(
        h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE, h.decoder.max_header_list_size
    )
    h.decoder = HPACKDecoder(limit)  # type: ignore[assignment]
    h.state_machine = GoawayTolerantStateMachine()
    h.incoming_buffer = FrameReader()  # type: ignore[assignment]
    table = h._frame_dispatch_table
    for quiet, parent in QUIET_CLASSES.items():
        table[quiet] = table[parent]
    h.local_settings = h2.settings.Settings(client=True, initial_values=settings)
    # some servers balk at this setting in the first SETTINGS frame
    del h.local_settings[h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL]
    h.initiate_connection()
    # h2 raises its frame size limit only at the SETTINGS ACK, and only for the next read:
    # frames the server sends after the ACK in the same read would be refused
    h.max_inbound_frame_size = max_frame_size
    return h
