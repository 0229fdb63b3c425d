"""Response content decoding (``Content-Encoding``), streaming with bounded memory.

The transport calls :func:`make_decoder` once per response with the ``Content-Encoding`` value,
then :meth:`Decoder.feed` for every body chunk as it arrives and :meth:`Decoder.finish` when the
body ends. Each call returns an iterator of decoded pieces of at most ``PIECE_SIZE`` bytes, made
lazily: a few KiB that inflate to gigabytes are produced piece by piece, never held at once. An
iterator must be consumed (or dropped) before the next call on the same decoder.

Decoder state per response is bounded by the format: 32 KiB window for gzip/deflate, at most
16 MiB for brotli, and 8 MiB for zstd (RFC 9659 caps the window of the ``zstd`` content coding
at 8 MiB; a frame asking for more is refused as ``ReadError``).

Errors: corrupt data, data after the end of a stream and a body that ends inside a compressed
stream raise :class:`ReadError`. An empty body is never an error, whatever the header says.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import IO, Final, Protocol, cast

import brotli  # type: ignore[import-untyped]
import zstandard

from cpqwest._errors import ReadError

__all__ = [
    "MAX_CODINGS",
    "PIECE_SIZE",
    "ZSTD_MAX_WINDOW",
    "Decoder",
    "_BrotliDecompressor",
    "_ZstdDecompressor",
    "accept_encoding",
    "make_decoder",
]

PIECE_SIZE: Final = 64 * 1024
"""Upper bound of every decoded piece the decoders yield."""

MAX_CODINGS: Final = 5
"""More codings than this in one ``Content-Encoding`` is refused (as curl does)."""

ZSTD_MAX_WINDOW: Final = 8 * 1024 * 1024
"""RFC 9659: the ``zstd`` content coding uses windows of at most 8 MiB (browsers enforce it)."""

# Order and spelling of what reqwest sends (its tower-http decompression layer; deflate is not
# advertised by the original, only decoded when a server sends it anyway).
_ACCEPT: Final[dict[tuple[bool, bool, bool], str | None]] = {
    (True, True, True): "zstd,gzip,br",
    (True, True, False): "gzip,br",
    (True, False, True): "zstd,gzip",
    (True, False, False): "gzip",
    (False, True, True): "zstd,br",
    (False, True, False): "br",
    (False, False, True): "zstd",
    (False, False, False): None,
}


def accept_encoding(gzip: bool, brotli: bool, zstd: bool) -> str | None:
    """The ``Accept-Encoding`` value to send for the enabled codings (None: send none)."""
    return _ACCEPT[(bool(gzip), bool(brotli), bool(zstd))]


class Decoder(Protocol):
    """Streaming decoder of one response body."""

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decode one body chunk; yields pieces of at most ``PIECE_SIZE`` bytes."""
        ...

    def finish(self) -> Iterator[bytes]:
        """End of body: yields what is left; raises ``ReadError`` if the stream is incomplete."""
        ...


def make_decoder(
    content_encoding: str | None,
    *,
    gzip: bool,
    brotli: bool,
    zstd: bool,
    piece_size: int = PIECE_SIZE,
) -> Decoder | None:
    """A decoder for a ``Content-Encoding`` value, or None when the body is passed through.

    ``content_encoding`` is the header's value (several header lines joined with ``,``). Codings
    are listed in the order the server applied them, so they are decoded in reverse; names are
    case-insensitive, ``identity`` is ignored, ``x-gzip`` is ``gzip`` (RFC 9110 §8.4.1.3) and
    ``deflate`` is decoded under the gzip switch. More than ``MAX_CODINGS`` → ``ReadError``.

    A coding that is unknown or disabled makes the whole chain undecodable: None is returned and
    the body is handed to the caller as it came, ``Content-Encoding`` left in place (reqwest
    does the same). When a decoder is returned, the caller drops ``Content-Encoding`` and
    ``Content-Length`` from the response headers: they describe the encoded bytes.
    """
    if not content_encoding:
        return None
    codings = [
        c
        for c in (t.strip(" \t").lower() for t in content_encoding.split(","))
        if c and c != "identity"
    ]
    if not codings:
        return None
    if len(codings) > MAX_CODINGS:
        raise ReadError(
            f"Too many content codings in response: {len(codings)} (at most {MAX_CODINGS})"
        )
    stages: list[Decoder] = []
    for coding in reversed(codings):
        stage = _make_stage(coding, gzip, brotli, zstd, piece_size)
        if stage is None:
            # Unknown or disabled: nothing of the chain can be decoded, pass the body through.
            return None
        stages.append(stage)
    if len(stages) == 1:
        return stages[0]
    return _ChainDecoder(stages)


def _make_stage(
    coding: str, gzip: bool, brotli: bool, zstd: bool, piece_size: int
) -> Decoder | None:
    if coding in ("gzip", "x-gzip"):
        return _ZlibDecoder("gzip", piece_size) if gzip else None
    if coding == "deflate":
        return _ZlibDecoder("deflate", piece_size) if gzip else None
    if coding == "br":
        return _BrotliDecoder(piece_size) if brotli else None
    if coding == "zstd":
        return _ZstdDecoder(piece_size) if zstd else None
    return None


def _split(out: bytes, limit: int) -> Iterator[bytes]:
    """Cut an oversized piece into pieces of at most ``limit`` bytes."""
    view = memoryview(out)
    for start in range(0, len(out), limit):
        yield bytes(view[start : start + limit])


def _truncated(coding: str) -> ReadError:
    return ReadError(f"Error decoding {coding} body: the body ended inside the compressed stream")


def _trailing(coding: str) -> ReadError:
    return ReadError(f"Error decoding {coding} body: unexpected data after the end of the stream")


def _corrupt(coding: str, exc: BaseException) -> ReadError:
    return ReadError(f"Error decoding {coding} body: {exc}")


# -------------------------------------------------------------------------------------------------
# gzip and deflate (zlib)

_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS
_ZLIB_WBITS: Final = zlib.MAX_WBITS
_RAW_WBITS: Final = -zlib.MAX_WBITS
_ZLIB_SLICE: Final = 16 * 1024


def _is_zlib_header(b0: int, b1: int) -> bool:
    # RFC 1950: CM = 8 (deflate), CINFO <= 7, and the 16-bit header is a multiple of 31.
    return (b0 & 0x0F) == 8 and (b0 >> 4) <= 7 and ((b0 << 8) | b1) % 31 == 0


class _ZlibDecoder:
    """``gzip`` (members may be concatenated) and ``deflate``; trailing NUL padding is allowed.

    ``deflate`` is meant to be zlib-wrapped (RFC 9110 §8.4.1.2), but some servers send raw
    deflate: like browsers, the first two bytes decide (a valid zlib header or not).
    """

    __slots__ = ("_coding", "_d", "_head", "_limit", "_padding", "_started")

    def __init__(self, coding: str, limit: int) -> None:
        self._coding = coding
        self._limit = limit
        self._started = False
        self._padding = False
        self._head = b""
        # deflate: chosen once two bytes are known
        self._d = zlib.decompressobj(_GZIP_WBITS) if coding == "gzip" else None

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        self._started = True
        d = self._d
        if d is None:
            if self._head:
                data = self._head + data
            if len(data) < 2:
                self._head = data
                return
            self._head = b""
            wbits = _ZLIB_WBITS if _is_zlib_header(data[0], data[1]) else _RAW_WBITS
            d = self._d = zlib.decompressobj(wbits)
        limit = self._limit
        size = len(data)
        try:
            # Input goes in slices: zlib copies the unconsumed input into `unconsumed_tail` on
            # every bounded call, which for a whole-bomb chunk would be quadratic.
            for start in range(0, size, _ZLIB_SLICE):
                chunk = data if size <= _ZLIB_SLICE else data[start : start + _ZLIB_SLICE]
                while True:
                    if d.eof:
                        if not chunk:
                            break
                        member = self._after_end(chunk)
                        if member is None:  # NUL padding
                            break
                        d = member
                    out = d.decompress(chunk, limit)
                    if out:
                        yield out
                    if d.eof:
                        chunk = d.unused_data
                    else:
                        chunk = d.unconsumed_tail
                        # A full piece may leave output pending inside zlib: ask again.
                        if not chunk and len(out) < limit:
                            break
        except zlib.error as exc:
            raise _corrupt(self._coding, exc) from exc

    def _after_end(self, data: bytes) -> zlib._Decompress | None:
        """Bytes after a complete stream: a new gzip member, NUL padding, or an error."""
        if self._padding or data[0] == 0:
            if data.strip(b"\0"):
                raise _trailing(self._coding)
            self._padding = True
            return None
        if self._coding != "gzip":
            raise _trailing(self._coding)
        d = self._d = zlib.decompressobj(_GZIP_WBITS)
        return d

    def finish(self) -> Iterator[bytes]:
        # feed() drains zlib completely, so nothing is left but the completeness check.
        if self._started and (self._d is None or not self._d.eof):
            raise _truncated(self._coding)
        yield from ()


# -------------------------------------------------------------------------------------------------
# brotli


class _RawBrotli(Protocol):
    """The part of ``brotli.Decompressor`` used here (the bindings ship no types)."""

    def process(self, data: bytes, output_buffer_limit: int = ...) -> bytes: ...
    def can_accept_more_data(self) -> bool: ...
    def is_finished(self) -> bool: ...


# brotli >= 1.2 bounds each output (`output_buffer_limit`); 1.1 can only return everything.
_BROTLI_BOUNDED: Final = hasattr(brotli.Decompressor, "can_accept_more_data")
_brotli_error = cast("type[Exception]", brotli.error)


class _BrotliDecoder:
    __slots__ = ("_d", "_limit", "_started")

    def __init__(self, limit: int) -> None:
        self._d = cast(_RawBrotli, brotli.Decompressor())
        self._limit = limit
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        self._started = True
        d = self._d
        limit = self._limit
        try:
            if not _BROTLI_BOUNDED:  # pragma: no cover - brotli < 1.2: memory not bounded
                yield from _split(d.process(data), limit)
                return
            out = d.process(data, output_buffer_limit=limit)
            # Output can stay pending inside the decoder even when it accepts more input (the
            # bindings stop at a buffer block), so drain until a call gives nothing: everything
            # decodable so far reaches the reader now, not with the next chunk.
            while True:
                if out:
                    if len(out) > limit:
                        # the bindings grow their buffer in blocks, overshooting the limit
                        yield from _split(out, limit)
                    else:
                        yield out
                elif d.can_accept_more_data():
                    return
                out = d.process(b"", output_buffer_limit=limit)
                if not out and not d.can_accept_more_data():  # pragma: no cover - defensive
                    raise ReadError("Error decoding br body: the decoder made no progress")
        except _brotli_error as exc:
            raise _corrupt("br", exc) from exc

    def finish(self) -> Iterator[bytes]:
        if not self._started:
            return
        d = self._d
        limit = self._limit
        try:
            while True:
                if _BROTLI_BOUNDED:
                    out = d.process(b"", output_buffer_limit=limit)
                else:  # pragma: no cover
                    out = d.process(b"")
                if not out:
                    break
                yield from _split(out, limit) if len(out) > limit else (out,)
        except _brotli_error as exc:
            raise _corrupt("br", exc) from exc
        if not d.is_finished():
            raise _truncated("br")


# -------------------------------------------------------------------------------------------------
# zstd
#
# python-zstandard has no bounded push API (`decompressobj().decompress` returns everything an
# input produces). Its C `read_to_iter` iterator is bounded (one `write_size` piece per step) and
# pulls input from a `read()` method: ours raises `_NeedInput` when the chunk handed in is used
# up. The C iterator asks for input only when it has produced nothing in that step, so nothing
# is lost, and it stays usable after the exception (it is a C object, not a generator).
#
# The iterator stops at the end of a frame and keeps what it read beyond it, so a small scanner
# walks the frame and block headers (RFC 8878) to hand it exactly one frame at a time. That gives
# concatenated frames, skippable frames, garbage after the last frame (error) and a body that
# ends inside a frame (error at finish). The scanner only reads headers: one 3-byte block header
# per block of up to 128 KiB of output, never per byte.


class _NeedInput(Exception):
    """Raised by the input source when the current chunk is used up."""


class _ZstdSource:
    """The ``read(n)`` source the zstandard iterator pulls from: the current frame's bytes."""

    __slots__ = ("data", "end", "pos")

    def __init__(self) -> None:
        self.data = b""
        self.pos = 0
        self.end = False  # no more bytes of this frame will come: EOF after `data`

    def read(self, n: int) -> bytes:
        data = self.data
        pos = self.pos
        size = len(data)
        if pos < size:
            if pos == 0 and size <= n:
                self.data = b""
                return data
            self.pos = pos + n
            if self.pos >= size:
                self.data = b""
                self.pos = 0
            return data[pos : pos + n]
        if self.end:
            return b""
        raise _NeedInput


_ZSTD_MAGIC: Final = 0xFD2FB528
_ZSTD_SKIPPABLE_MASK: Final = 0xFFFFFFF0
_ZSTD_SKIPPABLE: Final = 0x184D2A50
_ZSTD_MAX_BLOCK: Final = 128 * 1024
_ZSTD_READ_SIZE: Final = 128 * 1024  # ZSTD_DStreamInSize()

# scanner states: which header comes next, and its length
_S_MAGIC: Final = 0
_S_FHD: Final = 1
_S_BLOCK: Final = 2
_S_SKIPPABLE_SIZE: Final = 3
_HEADER_LEN: Final = (4, 1, 3, 4)
_DID_LEN: Final = (0, 1, 2, 4)
_FCS_LEN: Final = (0, 2, 4, 8)


class _ZstdDecoder:
    __slots__ = (
        "_checksum",
        "_dctx",
        "_end_after_skip",
        "_hdr",
        "_it",
        "_limit",
        "_skip",
        "_src",
        "_started",
        "_state",
    )

    def __init__(self, limit: int) -> None:
        self._dctx = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
        self._limit = limit
        self._src = _ZstdSource()
        self._it: Iterator[bytes] | None = None
        self._started = False
        # frame scanner
        self._state = _S_MAGIC
        self._hdr = b""
        self._skip = 0
        self._end_after_skip = False
        self._checksum = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        if not isinstance(data, bytes):  # the zstandard source protocol needs bytes
            data = bytes(data)
        self._started = True
        ends = self._scan(data)
        start = 0
        for end in ends:
            yield from self._decode(data[start:end] if start or end < len(data) else data, True)
            start = end
        if start < len(data):
            yield from self._decode(data[start:] if start else data, False)

    def finish(self) -> Iterator[bytes]:
        if self._started and (
            self._state != _S_MAGIC or self._hdr or self._skip or self._end_after_skip
        ):
            raise _truncated("zstd")
        yield from ()

    def _decode(self, segment: bytes, frame_end: bool) -> Iterator[bytes]:
        src = self._src
        src.data = segment
        src.pos = 0
        src.end = frame_end
        it = self._it
        if it is None:
            it = self._it = self._dctx.read_to_iter(
                cast("IO[bytes]", src), read_size=_ZSTD_READ_SIZE, write_size=self._limit
            )
        try:
            while True:
                try:
                    out = next(it)
                except _NeedInput:
                    return
                except StopIteration:
                    # zstd finished the frame: it must agree with the scanner
                    self._it = None
                    if not frame_end or src.data:
                        raise ReadError(
                            "Error decoding zstd body: frame ended before its last block"
                        ) from None
                    return
                yield out
        except zstandard.ZstdError as exc:
            self._it = None
            raise _corrupt("zstd", exc) from exc

    def _scan(self, data: bytes) -> list[int]:
        """Walk frame/block headers in ``data``; offsets where a frame ends."""
        ends: list[int] = []
        pos = 0
        size = len(data)
        while pos < size:
            skip = self._skip
            if skip:
                if skip > size - pos:
                    self._skip = skip - (size - pos)
                    break
                pos += skip
                self._skip = 0
                if self._end_after_skip:
                    self._end_after_skip = False
                    self._state = _S_MAGIC
                    ends.append(pos)
                continue
            need = _HEADER_LEN[self._state]
            hdr = self._hdr
            if hdr:  # a header split across chunks
                take = min(need - len(hdr), size - pos)
                hdr += data[pos : pos + take]
                pos += take
                if len(hdr) < need:
                    self._hdr = hdr
                    break
                self._hdr = b""
            elif size - pos >= need:
                hdr = data[pos : pos + need]
                pos += need
            else:
                self._hdr = data[pos:]
                break
            if self._header(hdr):
                ends.append(pos)
        return ends

    def _header(self, hdr: bytes) -> bool:
        """Interpret one complete header; True if a frame ends right after it."""
        state = self._state
        if state == _S_BLOCK:
            value = int.from_bytes(hdr, "little")
            block_type = (value >> 1) & 3
            block_size = value >> 3
            if block_type == 3 or block_size > _ZSTD_MAX_BLOCK:
                raise ReadError("Error decoding zstd body: invalid block header")
            skip = 1 if block_type == 1 else block_size
            if value & 1:  # last block
                if self._checksum:
                    skip += 4
                if not skip:
                    self._state = _S_MAGIC
                    return True
                self._end_after_skip = True
            self._skip = skip
            return False
        if state == _S_MAGIC:
            magic = int.from_bytes(hdr, "little")
            if magic == _ZSTD_MAGIC:
                self._state = _S_FHD
            elif (magic & _ZSTD_SKIPPABLE_MASK) == _ZSTD_SKIPPABLE:
                self._state = _S_SKIPPABLE_SIZE
            else:
                raise ReadError("Error decoding zstd body: not a zstd frame")
            return False
        if state == _S_FHD:
            fhd = hdr[0]
            if fhd & 0x08:
                raise ReadError("Error decoding zstd body: reserved bit set in frame header")
            single_segment = fhd & 0x20
            fcs_flag = fhd >> 6
            fcs_len = 1 if (fcs_flag == 0 and single_segment) else _FCS_LEN[fcs_flag]
            self._skip = (0 if single_segment else 1) + _DID_LEN[fhd & 3] + fcs_len
            self._checksum = bool(fhd & 0x04)
            self._state = _S_BLOCK
            return False
        # skippable frame: 4-byte length, then that many bytes
        length = int.from_bytes(hdr, "little")
        if not length:
            self._state = _S_MAGIC
            return True
        self._skip = length
        self._end_after_skip = True
        return False


# -------------------------------------------------------------------------------------------------
# several codings


class _ChainDecoder:
    """Several codings, ``stages`` in decoding order; every stage stays lazy and bounded."""

    __slots__ = ("_stages",)

    def __init__(self, stages: list[Decoder]) -> None:
        self._stages = stages

    def feed(self, data: bytes) -> Iterator[bytes]:
        return self._through(0, data)

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        pieces = self._stages[index].feed(data)
        if index + 1 == len(self._stages):
            yield from pieces
        else:
            for piece in pieces:
                yield from self._through(index + 1, piece)

    def finish(self) -> Iterator[bytes]:
        last = len(self._stages) - 1
        for index, stage in enumerate(self._stages):
            for piece in stage.finish():
                if index == last:
                    yield piece
                else:
                    yield from self._through(index + 1, piece)


# -------------------------------------------------------------------------------------------------
# pyqwest._pyqwest._BrotliDecompressor / _ZstdDecompressor (private names users' tests import)


class _OneShot:
    """``feed(data, *, end) -> bytes``: everything decodable so far, in one ``bytes``.

    As in the original, failures raise ``RuntimeError("<Name> decompression error: …")``.
    """

    __slots__ = ("_dec", "_name")

    def __init__(self, dec: Decoder, name: str) -> None:
        self._dec = dec
        self._name = name

    def feed(self, data: bytes, *, end: bool) -> bytes:
        dec = self._dec
        try:
            parts = list(dec.feed(bytes(data)))
            if end:
                parts.extend(dec.finish())
        except ReadError as exc:
            raise RuntimeError(f"{self._name} decompression error: {exc}") from exc
        if len(parts) == 1:
            return parts[0]
        return b"".join(parts)


class _BrotliDecompressor(_OneShot):
    """Incremental brotli decoder: ``feed(data, *, end) -> bytes``."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(_BrotliDecoder(PIECE_SIZE), "Brotli")


class _ZstdDecompressor(_OneShot):
    """Incremental zstd decoder: ``feed(data, *, end) -> bytes``."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(_ZstdDecoder(PIECE_SIZE), "Zstd")
