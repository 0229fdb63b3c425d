"""cpqwest._hpack.Decoder against the reference hpack.Decoder (differential), and its errors."""

from __future__ import annotations

import random

import hpack
import pytest
from hpack import NeverIndexedHeaderTuple

from cpqwest._hpack import Decoder

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
