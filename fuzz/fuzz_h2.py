"""Atheris harness for the HTTP/2 receive path: arbitrary server bytes fed to our connection
core (pyqwest._h2.H2Connection and its streams, over h2) after the server's preface.

Each input is a small header (a flags byte, a count byte, 2 bytes per split point) and the bytes
the server sends after its SETTINGS. Per input a fresh connection is made on an event loop that
is not running (its callbacks run between reads), with a transport that only counts what is
written; 0-3 requests are open when the bytes arrive (buffered or streamed, one with a body
still being sent, the first one possibly reset by us already), and the writer may be paused (a
server that does not read). The bytes are fed once in one piece and once in the input's pieces.

Findings: any exception out of the connection, or any failure of a request or of a body read
that is not one of the spec's classes (RemoteProtocolError, StreamError, ReadError, WriteError,
TimeoutError); a hang (libFuzzer's -timeout); a result that depends on how the bytes were split
(AssertionError), compared when neither run ended in a connection error (h2 drops the events of
a read that ends in one, so those outcomes may differ by design).

Run (from the repository root, with the project installed):

    python fuzz/fuzz_h2.py /tmp/corpus_h2 -max_len=4096 -timeout=10 -runs=5000000

An empty corpus directory is seeded with a few well-formed server answers first.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import atheris

_COVER = "FUZZ_H2_COVER"
_DEFAULT_COVER = "pyqwest._h2,hyperframe"

# Coverage: our HTTP/2 code and frame parsing by default; FUZZ_H2_COVER=pyqwest._h2,h2,hyperframe
# also instruments h2's state machines (about 3x fewer inputs per second).
with atheris.instrument_imports(include=os.environ.get(_COVER, _DEFAULT_COVER).split(",")):
    import h2.settings
    import hpack
    import hyperframe.frame

    from pyqwest import ReadError, RemoteProtocolError, StreamError, WriteError
    from pyqwest._h2 import H2Connection

ALLOWED = (RemoteProtocolError, StreamError, ReadError, WriteError, TimeoutError)
MAX_PIECES = 16
HEADERS = [(":method", "GET"), (":scheme", "http"), (":authority", "fuzz"), (":path", "/")]
# The server's preface: a SETTINGS frame (its ACK comes from the fuzzed bytes, or not).
PREFACE = hyperframe.frame.SettingsFrame(
    0, settings={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 100}
).serialize()
LOOP = asyncio.new_event_loop()


class _Sink(asyncio.Transport):
    """A transport that takes writes and counts them."""

    def __init__(self) -> None:
        super().__init__()
        self.written = 0
        self.closing = False

    def write(self, data: Any) -> None:
        self.written += len(data)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


async def _endless() -> Any:
    yield b"up"
    await asyncio.sleep(3600)


def _outcome(exc: BaseException | None) -> Any:
    if exc is None:
        return None
    if not isinstance(exc, ALLOWED):
        raise AssertionError(f"untyped failure: {exc!r}") from exc
    return (type(exc).__name__, str(exc))


def run(flags: int, data: bytes, cuts: list[int]) -> tuple[bool, list[Any]]:
    """Feed `data` cut at `cuts` to a fresh connection; (connection failed, per-request
    outcomes)."""
    return LOOP.run_until_complete(_drive(flags, data, cuts))


async def _drive(flags: int, data: bytes, cuts: list[int]) -> tuple[bool, list[Any]]:
    """As the event loop would: each read is followed by a pass of the ready callbacks."""
    conn = H2Connection(LOOP, ("http", "fuzz", 80))
    sink = _Sink()
    conn.connection_made(sink)
    conn.data_received(PREFACE)
    assert conn.ready() is None
    nstreams = flags & 3
    streams = []
    for i in range(nstreams):
        body: Any = None
        if i == 1 and flags & 4:
            body = b"b" * 70000  # more than the initial window: the rest waits for credit
        elif i == 2 and flags & 8:
            body = _endless()
        streams.append(conn.open_stream(HEADERS, body, bool(flags & 16), None, None))
    waiters = [s._waiter for s in streams]
    if streams and flags & 32:
        streams[0].abort()
    if flags & 64:
        conn.pause_writing()
    await asyncio.sleep(0)
    start = 0
    for cut in [*cuts, len(data)]:
        if conn.closed:
            break
        conn.data_received(data[start:cut])
        start = cut
        await asyncio.sleep(0)
    results: list[Any] = []
    for s, w in zip(streams, waiters, strict=True):
        got: Any = None
        if w is not None and w.done():
            got = _outcome(w.exception()) or "done"
        try:
            chunk = s.take_chunk()
            got = (got, chunk if isinstance(chunk, bytes | None) else "wait")
        except BaseException as exc:  # judged by _outcome
            got = (got, _outcome(exc))
        results.append((got, s.status, s.headers, s.trailers, s.message_done))
    failed = conn.closed
    conn.close()
    for w in waiters:
        if w is not None and w.done():
            w.exception()  # retrieved: failed by close()
    await asyncio.sleep(0)
    for task in asyncio.all_tasks(LOOP):
        if task is not asyncio.current_task():
            task.cancel()
    await asyncio.sleep(0)
    return failed, results


def TestOneInput(buf: bytes) -> None:
    # layout: flags byte, piece-count byte, 2 bytes per cut, then the server's bytes
    if len(buf) < 3:
        return
    flags = buf[0]
    ncuts = buf[1] % (MAX_PIECES + 1)
    raw_cuts = [int.from_bytes(buf[2 + 2 * i : 4 + 2 * i], "little") for i in range(ncuts)]
    data = buf[2 + 2 * ncuts :]
    cuts = sorted({c % (len(data) + 1) for c in raw_cuts})
    whole_failed, whole = run(flags, data, [])
    if not cuts:
        return
    split_failed, split = run(flags, data, cuts)
    if not whole_failed and not split_failed and whole != split:
        raise AssertionError(f"split-dependent result: cuts={cuts}\n{whole!r}\n!=\n{split!r}")


def _seeds() -> list[bytes]:
    """A few well-formed server answers for stream 1 (and 3), after the preface."""
    enc = hpack.Encoder()
    F = hyperframe.frame

    def head(sid: int, fields: list[tuple[str, str]], end: bool = False) -> bytes:
        flags = {"END_HEADERS", *(["END_STREAM"] if end else [])}
        return F.HeadersFrame(sid, data=enc.encode(fields), flags=flags).serialize()

    ack = F.SettingsFrame(0, flags={"ACK"}).serialize()
    ok = head(1, [(":status", "200"), ("content-length", "2")])
    body = F.DataFrame(1, data=b"ok", flags={"END_STREAM"}).serialize()
    trailers = head(1, [("grpc-status", "0")], end=True)
    return [
        bytes([0x01, 0]) + ack + ok + body,
        bytes([0x03, 2, 10, 0, 40, 0]) + ack + ok + body + head(3, [(":status", "204")], True),
        bytes([0x11, 0]) + ack + head(1, [(":status", "200")]) + F.DataFrame(1, b"x").serialize()
        + trailers,
        bytes([0x21, 0]) + ack + ok + F.DataFrame(1, b"late" * 100).serialize(),
        bytes([0x05, 0]) + ack + F.WindowUpdateFrame(0, window_increment=1 << 20).serialize()
        + F.WindowUpdateFrame(3, window_increment=1 << 20).serialize(),
        bytes([0x41, 0]) + F.PingFrame(0, opaque_data=b"8 bytes!").serialize() * 50,
        bytes([0x02, 0]) + ack + F.GoAwayFrame(0, last_stream_id=1).serialize() + ok + body,
        bytes([0x01, 0]) + ack + F.RstStreamFrame(1, error_code=7).serialize(),
        bytes([0x01, 0]) + F.SettingsFrame(0, settings={3: 0, 4: 1 << 20}).serialize() + ok,
    ]


def main() -> None:
    dirs = [a for a in sys.argv[1:] if not a.startswith("-")]
    if dirs and os.path.isdir(dirs[0]) and not os.listdir(dirs[0]):
        for i, seed in enumerate(_seeds()):
            with open(os.path.join(dirs[0], f"seed{i}"), "wb") as f:
                f.write(seed)
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
