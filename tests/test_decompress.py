"""Unit tests of pyqwest._decompress: Content-Encoding decoding, streaming and bounded."""

from __future__ import annotations

import gzip
import os
import tracemalloc
import zlib
from collections.abc import Iterable

import brotli  # type: ignore[import-untyped]
import pytest
import zstandard

from cpqwest._errors import ReadError
from pyqwest._decompress import (
    MAX_CODINGS,
    PIECE_SIZE,
    ZSTD_MAX_WINDOW,
    Decoder,
    _BrotliDecompressor,
    _ZstdDecompressor,
    accept_encoding,
    make_decoder,
)

GIB = 1 << 30
PAYLOAD = os.urandom(3000) * 50 + b"The quick brown fox jumps over the lazy dog. " * 4000


def _dec(content_encoding: str | None, **switches: bool) -> Decoder:
    options = {"gzip": True, "brotli": True, "zstd": True, **switches}
    decoder = make_decoder(content_encoding, **options)
    assert decoder is not None
    return decoder


def _chunks(blob: bytes, size: int) -> Iterable[bytes]:
    return (blob[i : i + size] for i in range(0, len(blob), size))


def _decode(decoder: Decoder, chunks: Iterable[bytes], limit: int = PIECE_SIZE) -> bytes:
    out = []
    for chunk in chunks:
        for piece in decoder.feed(chunk):
            assert 0 < len(piece) <= limit
            out.append(piece)
    for piece in decoder.finish():
        assert 0 < len(piece) <= limit
        out.append(piece)
    return b"".join(out)


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


def _zstd(data: bytes, **kwargs: object) -> bytes:
    return zstandard.ZstdCompressor(**kwargs).compress(data)  # type: ignore[arg-type]


def _zstd_streamed(data: bytes) -> bytes:
    """A frame without content size (single segment off): a window descriptor, several blocks."""
    c = zstandard.ZstdCompressor(write_checksum=True).compressobj()
    return c.compress(data) + c.flush()


ENCODERS = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": _zstd,
}


# --- Accept-Encoding -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gz", "br", "zs", "expected"),
    [
        (True, True, True, "zstd,gzip,br"),
        (True, True, False, "gzip,br"),
        (True, False, True, "zstd,gzip"),
        (False, True, True, "zstd,br"),
        (True, False, False, "gzip"),
        (False, True, False, "br"),
        (False, False, True, "zstd"),
        (False, False, False, None),
    ],
)
def test_accept_encoding(gz: bool, br: bool, zs: bool, expected: str | None) -> None:
    assert accept_encoding(gz, br, zs) == expected


# --- header parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "identity", "IDENTITY", " identity , identity ", ",,"])
def test_no_coding_no_decoder(value: str | None) -> None:
    assert make_decoder(value, gzip=True, brotli=True, zstd=True) is None


@pytest.mark.parametrize("value", ["compress", "x-custom", "gzip, x-custom", "x-custom, br", "gz"])
def test_unknown_coding_passes_body_through(value: str) -> None:
    assert make_decoder(value, gzip=True, brotli=True, zstd=True) is None


@pytest.mark.parametrize(
    ("value", "switch"),
    [
        ("gzip", "gzip"),
        ("x-gzip", "gzip"),
        ("deflate", "gzip"),
        ("br", "brotli"),
        ("zstd", "zstd"),
        ("br, zstd", "zstd"),
        ("gzip, br", "gzip"),
    ],
)
def test_disabled_coding_passes_body_through(value: str, switch: str) -> None:
    options = {"gzip": True, "brotli": True, "zstd": True, switch: False}
    assert make_decoder(value, **options) is None


@pytest.mark.parametrize(
    "value", ["GZIP", " gzip ", "\tGzip\t", "identity, gzip", "gzip,,", "x-gzip"]
)
def test_coding_names_case_and_whitespace(value: str) -> None:
    assert _decode(_dec(value), [gzip.compress(PAYLOAD)]) == PAYLOAD


def test_at_most_five_codings() -> None:
    blob = PAYLOAD
    for _ in range(MAX_CODINGS):
        blob = gzip.compress(blob)
    assert _decode(_dec(", ".join(["gzip"] * MAX_CODINGS)), _chunks(blob, 999)) == PAYLOAD
    with pytest.raises(ReadError, match="Too many content codings"):
        make_decoder(", ".join(["gzip"] * (MAX_CODINGS + 1)), gzip=True, brotli=True, zstd=True)
    # counted before looking at the names, like curl
    with pytest.raises(ReadError):
        make_decoder("a, b, c, d, e, f", gzip=True, brotli=True, zstd=True)
    # identity does not count
    assert make_decoder("identity, " * 10 + "gzip", gzip=True, brotli=True, zstd=True)


# --- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("coding", sorted(ENCODERS))
@pytest.mark.parametrize("chunk", [1, 7, 1000, 1 << 20])
def test_round_trip(coding: str, chunk: int) -> None:
    data = PAYLOAD if chunk > 1 else PAYLOAD[:20000]
    blob = ENCODERS[coding](data)
    assert _decode(_dec(coding), _chunks(blob, chunk)) == data


@pytest.mark.parametrize("coding", sorted(ENCODERS))
def test_small_piece_size(coding: str) -> None:
    decoder = make_decoder(coding, gzip=True, brotli=True, zstd=True, piece_size=1000)
    assert decoder is not None
    blob = ENCODERS[coding](PAYLOAD)
    assert _decode(decoder, _chunks(blob, 5000), limit=1000) == PAYLOAD


@pytest.mark.parametrize("chunk", [1, 2, 3, 100])
def test_deflate_raw_fallback(chunk: int) -> None:
    """Servers that send raw deflate for `deflate` are decoded, as browsers do."""
    blob = _raw_deflate(PAYLOAD)
    assert not (blob[0] & 0x0F == 8 and ((blob[0] << 8) | blob[1]) % 31 == 0)
    assert _decode(_dec("deflate"), _chunks(blob, chunk)) == PAYLOAD


def test_deflate_zlib_wrapped_one_byte_first_chunk() -> None:
    blob = zlib.compress(PAYLOAD)
    assert _decode(_dec("deflate"), [blob[:1], blob[1:2], blob[2:]]) == PAYLOAD


@pytest.mark.parametrize(
    ("header", "layers"),
    [
        ("gzip, br", [gzip.compress, brotli.compress]),
        ("br, gzip", [brotli.compress, gzip.compress]),
        ("deflate, zstd, br", [zlib.compress, _zstd, brotli.compress]),
        ("zstd,gzip", [_zstd, gzip.compress]),
    ],
)
def test_chain_is_decoded_in_reverse(header: str, layers: list) -> None:  # type: ignore[type-arg]
    blob = PAYLOAD
    for encode in layers:  # applied in header order
        blob = encode(blob)
    assert _decode(_dec(header), _chunks(blob, 333)) == PAYLOAD


def test_empty_body_is_not_an_error() -> None:
    for coding in [*ENCODERS, "gzip, br, zstd"]:
        decoder = _dec(coding)
        assert list(decoder.feed(b"")) == []
        assert list(decoder.finish()) == []


def test_empty_streams() -> None:
    for coding, encode in ENCODERS.items():
        assert _decode(_dec(coding), [encode(b"")]) == b""


# --- output is produced as soon as it can be (streamed responses, SSE) ---------------------------


def _flushed_parts(coding: str, parts: list[bytes]) -> list[bytes]:
    """Compress `parts` as one stream, flushing after each, and return the compressed pieces."""
    out = []
    if coding in ("gzip", "deflate"):
        c = zlib.compressobj(wbits=31 if coding == "gzip" else 15)
        out = [c.compress(p) + c.flush(zlib.Z_SYNC_FLUSH) for p in parts]
        out.append(c.flush())
    elif coding == "br":
        b = brotli.Compressor()
        out = [b.process(p) + b.flush() for p in parts]
        out.append(b.finish())
    else:
        z = zstandard.ZstdCompressor().compressobj()
        out = [z.compress(p) + z.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK) for p in parts]
        out.append(z.flush())
    return out


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_flushed_data_is_available_before_the_stream_ends(coding: str) -> None:
    parts = [b"event: one\n\n", b"event: two\n\n" * 3000, b"event: three\n\n"]
    compressed = _flushed_parts(coding, parts)
    decoder = _dec(coding)
    for part, blob in zip(parts, compressed, strict=False):
        assert b"".join(decoder.feed(blob)) == part
    assert b"".join(decoder.feed(compressed[-1])) == b""
    assert list(decoder.finish()) == []


# --- data after the end of a stream --------------------------------------------------------------


@pytest.mark.parametrize("chunk", [1, 5, 1 << 20])
def test_gzip_members_are_concatenated(chunk: int) -> None:
    blob = gzip.compress(PAYLOAD[:1000]) + gzip.compress(b"") + gzip.compress(PAYLOAD[1000:])
    assert _decode(_dec("gzip"), _chunks(blob, chunk)) == PAYLOAD


def test_gzip_trailing_nul_padding_is_ignored() -> None:
    blob = gzip.compress(PAYLOAD)
    assert _decode(_dec("gzip"), [blob, b"\0" * 10, b"\0"]) == PAYLOAD
    assert _decode(_dec("gzip"), [blob + b"\0" * 100_000, b"\0"]) == PAYLOAD
    with pytest.raises(ReadError, match="unexpected data after the end"):
        _decode(_dec("gzip"), [blob + b"\0" * 100_000 + b"\1"])


@pytest.mark.parametrize(
    ("coding", "blob"),
    [
        ("gzip", gzip.compress(b"data") + b"garbage"),
        ("gzip", gzip.compress(b"data") + b"\0\0x"),
        ("deflate", zlib.compress(b"data") + b"x"),
        ("deflate", zlib.compress(b"data") + zlib.compress(b"more")),
        ("br", brotli.compress(b"data") + b"x"),
        ("zstd", _zstd(b"data") + b"garbage!"),
    ],
)
def test_data_after_the_end_is_an_error(coding: str, blob: bytes) -> None:
    with pytest.raises(ReadError, match=f"Error decoding {coding} body"):
        _decode(_dec(coding), [blob])


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 13, 1 << 20])
def test_zstd_frames_and_skippable_frames(chunk: int) -> None:
    skippable = (0x184D2A53).to_bytes(4, "little") + (5).to_bytes(4, "little") + b"12345"
    empty_skippable = (0x184D2A50).to_bytes(4, "little") + bytes(4)
    blob = (
        skippable
        + _zstd(PAYLOAD[:1000], write_checksum=True)
        + _zstd(b"")
        + empty_skippable
        + _zstd_streamed(PAYLOAD[1000:50000])
        + _zstd(PAYLOAD[50000:], write_content_size=False)
        + skippable
    )
    assert _decode(_dec("zstd"), _chunks(blob, chunk)) == PAYLOAD


def test_zstd_window_above_8_mib_is_refused() -> None:
    params = zstandard.ZstdCompressionParameters(window_log=24)
    c = zstandard.ZstdCompressor(compression_params=params).compressobj()
    blob = c.compress(PAYLOAD) + c.flush()
    assert zstandard.get_frame_parameters(blob).window_size > ZSTD_MAX_WINDOW
    with pytest.raises(ReadError, match="zstd"):
        _decode(_dec("zstd"), [blob])
    params = zstandard.ZstdCompressionParameters(window_log=23)
    c = zstandard.ZstdCompressor(compression_params=params).compressobj()
    blob = c.compress(PAYLOAD) + c.flush()
    assert zstandard.get_frame_parameters(blob).window_size == ZSTD_MAX_WINDOW
    assert _decode(_dec("zstd"), [blob]) == PAYLOAD


# --- truncated and corrupt bodies ----------------------------------------------------------------


@pytest.mark.parametrize("coding", sorted(ENCODERS))
@pytest.mark.parametrize("keep", [1, 2, 5, 0.5, -4, -1])
def test_truncated_body_fails_at_finish(coding: str, keep: float) -> None:
    blob = ENCODERS[coding](PAYLOAD)
    cut = int(len(blob) * keep) if isinstance(keep, float) else keep
    decoder = _dec(coding)
    for _ in decoder.feed(blob[:cut]):
        pass
    with pytest.raises(ReadError, match="ended inside the compressed stream"):
        list(decoder.finish())


def test_truncated_zstd_streamed_frame_and_inside_second_frame() -> None:
    for blob in (_zstd_streamed(PAYLOAD)[:-3], _zstd(b"one") + _zstd(b"two")[:6]):
        decoder = _dec("zstd")
        list(decoder.feed(blob))
        with pytest.raises(ReadError):
            list(decoder.finish())


@pytest.mark.parametrize(
    ("coding", "blob"),
    [
        ("gzip", b"definitely not gzip data"),
        ("deflate", b"\x78\x9c\xff\xff\xff\xff garbage"),
        ("deflate", b"\xff" * 32),
        ("br", b"\xff" * 100),
        ("br", b"not brotli data at all"),
        ("zstd", b"not zstd data at all"),
        ("zstd", b"(\xb5/\xfd\x08 reserved bit"),
    ],
)
def test_corrupt_data_is_a_read_error(coding: str, blob: bytes) -> None:
    with pytest.raises(ReadError, match=f"Error decoding {coding} body"):
        _decode(_dec(coding), [blob])


def test_checksums_are_verified() -> None:
    blob = bytearray(gzip.compress(PAYLOAD))
    blob[-6] ^= 0xFF  # CRC-32
    with pytest.raises(ReadError, match="gzip"):
        _decode(_dec("gzip"), [bytes(blob)])
    blob = bytearray(zlib.compress(PAYLOAD))
    blob[-1] ^= 0xFF  # Adler-32
    with pytest.raises(ReadError, match="deflate"):
        _decode(_dec("deflate"), [bytes(blob)])
    blob = bytearray(_zstd(PAYLOAD, write_checksum=True))
    blob[-1] ^= 0xFF  # XXH64
    with pytest.raises(ReadError, match="zstd"):
        _decode(_dec("zstd"), [bytes(blob)])


def test_error_in_a_chain_is_a_read_error() -> None:
    blob = brotli.compress(b"this is not gzip")
    with pytest.raises(ReadError, match="gzip"):
        _decode(_dec("gzip, br"), [blob])


# --- decompression bombs: produced piece by piece, memory stays small ----------------------------


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    zeros = b"\0" * (1 << 24)
    # zstd: 8 frames of 128 MiB of zeros, ~33 KiB
    frame = zstandard.ZstdCompressor(level=3).compress(b"\0" * (1 << 27))
    # gzip inside gzip: 16 members of 64 MiB (~1 MiB), gzipped again (~2.5 KiB)
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    member = b"".join(c.compress(zeros) for _ in range(4)) + c.flush()
    # brotli: one stream of 1 GiB (~1.6 KiB)
    b = brotli.Compressor(quality=3)
    br = b"".join(b.process(zeros) for _ in range(64)) + b.finish()
    return {
        "zstd": frame * 8,
        "gzip, gzip": gzip.compress(member * 16, 9),
        "br": br,
    }


@pytest.mark.parametrize("coding", ["zstd", "gzip, gzip", "br"])
def test_bomb_is_decoded_piece_by_piece(coding: str, bombs: dict[str, bytes]) -> None:
    blob = bombs[coding]
    assert len(blob) < 40_000
    decoder = _dec(coding)
    total = 0
    pieces = 0
    tracemalloc.start()
    try:
        for chunk in _chunks(blob, 1024):
            for piece in decoder.feed(chunk):
                assert len(piece) <= PIECE_SIZE
                total += len(piece)
                pieces += 1
        for piece in decoder.finish():
            assert len(piece) <= PIECE_SIZE
            total += len(piece)
            pieces += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == GIB
    assert pieces >= GIB // PIECE_SIZE
    assert peak < 4 * 1024 * 1024, peak


def test_gzip_bomb_in_large_chunks() -> None:
    """A plain gzip bomb (ratio ~1000) read in 256 KiB network chunks: still bounded."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * (1 << 24)
    blob = b"".join(c.compress(zeros) for _ in range(16)) + c.flush()  # 256 MiB
    decoder = _dec("gzip")
    total = 0
    for chunk in _chunks(blob, 256 * 1024):
        for piece in decoder.feed(chunk):
            assert len(piece) <= PIECE_SIZE
            total += len(piece)
    assert list(decoder.finish()) == []
    assert total == 16 << 24


@pytest.mark.parametrize("coding", ["zstd", "gzip, gzip", "br"])
def test_bomb_in_one_chunk_is_lazy(coding: str, bombs: dict[str, bytes]) -> None:
    """The whole bomb in one feed: the first pieces come without inflating the rest."""
    decoder = _dec(coding)
    tracemalloc.start()
    try:
        pieces = decoder.feed(bombs[coding])
        first = [next(pieces) for _ in range(10)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert all(len(p) <= PIECE_SIZE for p in first)
    assert peak < 4 * 1024 * 1024, peak


# --- pyqwest._pyqwest._BrotliDecompressor / _ZstdDecompressor ------------------------------------


@pytest.mark.parametrize(
    ("cls", "encode", "name"),
    [(_BrotliDecompressor, brotli.compress, "Brotli"), (_ZstdDecompressor, _zstd, "Zstd")],
)
def test_one_shot_decompressors(cls: type, encode: object, name: str) -> None:
    blob = encode(PAYLOAD)  # type: ignore[operator]
    d = cls()
    half = len(blob) // 2
    out = d.feed(blob[:half], end=False)
    assert isinstance(out, bytes)
    out += d.feed(blob[half:], end=False)
    out += d.feed(b"", end=True)
    assert out == PAYLOAD
    assert cls().feed(blob, end=True) == PAYLOAD
    assert cls().feed(b"", end=True) == b""
    with pytest.raises(RuntimeError, match=f"{name} decompression error"):
        cls().feed(blob[:-3], end=True)
    with pytest.raises(RuntimeError, match=f"{name} decompression error"):
        cls().feed(b"\xff" * 64 + blob, end=False)
