"""cpqwest._hpack: the Decoder against the reference hpack.Decoder (differential) and its errors;
the Encoder's blocks as hpack.Decoder reads them."""

from __future__ import annotations

import random

import hpack
import pytest
from hpack import NeverIndexedHeaderTuple

from cpqwest._hpack import Decoder, Encoder

NAMES = [b"server", b"date", b"content-type", b"x-a", b"x-b", b":status", b"set-cookie", b"etag"]


@pytest.mark.parametrize("seed", range(20))
def test_same_result_as_hpack(seed: int) -> None:
    rnd = random.Random(seed)
    enc, ref, ours = hpack.Encoder(), hpack.Decoder(), Decoder()
    if seed % 3 == 0:
        enc.header_table_size = rnd.choice([0, 64, 256, 4096])
    for _ in range(50):
        headers: list = []
        for _ in range(rnd.randint(0, 8)):
            name = rnd.choice(NAMES)
            value = bytes(rnd.randrange(0, 256) for _ in range(rnd.randint(0, 60)))
            kind = rnd.random()
            if kind < 0.2:
                headers.append(NeverIndexedHeaderTuple(name, value))
            elif kind < 0.4:
                headers.append((name, value, True))
            else:
                headers.append((name, value))
        block = enc.encode(headers, huffman=rnd.random() < 0.7)
        assert ours.decode(block, raw=True) == [tuple(h) for h in ref.decode(block, raw=True)]
        assert ours.header_table_size == ref.header_table_size


def test_str_headers_when_not_raw() -> None:
    block = hpack.Encoder().encode([(":status", "200"), ("x-name", "välue")])
    assert Decoder().decode(block) == [(":status", "200"), ("x-name", "välue")]


@pytest.mark.parametrize(
    "block",
    [
        b"\x80",  # index 0
        b"\xc0",  # index beyond both tables
        b"\xff\xff\xff\xff\xff\xff\xff",  # integer too large / truncated
        b"\x40\x05ab",  # truncated name
        b"\x00\x81\xff",  # Huffman string with EOS padding too long
        b"\x82\x3f\xe1\x1f",  # table size update after a field
        # string lengths past 2**28 that wrapped negative in C (fuzz/fuzz_h2.py found it)
        b"\x00\x00\xff\xff\xff\xff\xff\x48HHHH",  # Huffman value
        b"\x00\x00\x7f\xff\xff\xff\xff\x48HHHH",  # plain value
        b"\x00\x7f\xff\xff\xff\xff\x48HHHH",  # plain name
    ],
)
def test_malformed_blocks_raise_hpack_errors(block: bytes) -> None:
    with pytest.raises(hpack.HPACKError):
        hpack.Decoder().decode(block, raw=True)
    with pytest.raises(hpack.HPACKError):
        Decoder().decode(block, raw=True)


def test_limits() -> None:
    enc = hpack.Encoder()
    big = enc.encode([("x-big", "v" * 1000)])
    dec = Decoder(max_header_list_size=500)
    with pytest.raises(hpack.OversizedHeaderListError):
        dec.decode(big, raw=True)
    dec = Decoder()
    dec.max_allowed_table_size = 100
    with pytest.raises(hpack.InvalidTableSizeError):
        dec.decode(b"\x3f\xe1\x1f", raw=True)  # size update to 4096


# --- Encoder --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(10))
def test_encoder_blocks_decode_with_hpack(seed: int) -> None:
    rnd = random.Random(seed)
    enc, ref = Encoder(), hpack.Decoder()
    names = [":method", ":path", ":authority", "accept", "cookie", "x-ü", "user-agent", "x-a"]
    values = ["GET", "/", "", "*/*", "a=b", "välue", "gzip, deflate", "x" * 200, "日本"]
    for _ in range(50):
        if rnd.random() < 0.1:
            # the peer's SETTINGS_HEADER_TABLE_SIZE changes: the encoder's table stays at 0
            enc.header_table_size = ref.max_allowed_table_size = rnd.choice([0, 100, 4096])
        headers = [(rnd.choice(names), rnd.choice(values)) for _ in range(rnd.randint(0, 10))]
        assert ref.decode(enc.encode(headers)) == headers
        assert ref.header_table_size == 0


def test_encoder_indexes_static_fields_and_never_indexes_credentials() -> None:
    enc = Encoder()
    first = enc.encode([(":method", "GET"), (":path", "/")])
    assert first == b"\x20\x82\x84"  # table size 0 once, then two static-table indexes
    assert enc.encode([(":method", "GET")]) == b"\x82"
    # a literal without indexing (name from the static table: accept is entry 19)
    assert enc.encode([("accept", "*/*")]) == b"\x0f\x04\x03*/*"
    # credentials are never indexed, whatever the name's origin
    assert enc.encode([("authorization", "x")])[0] & 0xF0 == 0x10
    assert enc.encode([("cookie", "a=b")])[0] & 0xF0 == 0x10
    block = enc.encode([("x-new", "v")])
    assert block == b"\x00\x05x-new\x01v"
    never = hpack.Decoder().decode(b"\x20" + enc.encode([("cookie", "a=b")]))
    assert [type(h) for h in never] == [NeverIndexedHeaderTuple]


def test_encoder_bytes_fields_and_long_values() -> None:
    value = b"\xff" * 70000
    block = Encoder().encode([(b"x-bin", value), ("x-s", "v")])
    assert hpack.Decoder(max_header_list_size=1 << 20).decode(block, raw=True) == [
        (b"x-bin", value),
        (b"x-s", b"v"),
    ]
