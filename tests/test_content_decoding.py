"""Content-Encoding is decoded transparently, as each enable_* option allows (spec §0, §1.10)."""

from __future__ import annotations

import pytest
from servers.kitchensink import payload

from pyqwest import Client, HTTPVersion, ReadError

CODINGS = ["gzip", "deflate", "br", "zstd", "identity"]


@pytest.mark.parametrize("coding", CODINGS)
async def test_each_coding_decoded_buffered(client, semantics_server, coding):
    r = await client.get(semantics_server.url + f"/encoded?codings={coding}&size=5000")
    assert r.content == payload(5000)


@pytest.mark.parametrize("coding", CODINGS)
async def test_each_coding_decoded_streamed(client, semantics_server, coding):
    url = semantics_server.url + f"/encoded?codings={coding}&size=300000&pieces=7"
    async with client.stream("GET", url) as r:
        body = b"".join([bytes(c) async for c in r.content])
    assert body == payload(300000)


async def test_decoded_response_drops_encoding_headers(client, semantics_server):
    r = await client.get(semantics_server.url + "/encoded?codings=gzip&size=100")
    assert "content-encoding" not in r.headers
    assert "content-length" not in r.headers


async def test_several_codings_applied_in_order(client, semantics_server):
    r = await client.get(semantics_server.url + "/encoded?codings=gzip,br,zstd&size=2000")
    assert r.content == payload(2000)


async def test_accept_encoding_advertises_enabled_codings(client, semantics_server):
    r = await client.get(semantics_server.url + "/request")
    sent = dict(r.json()["headers"])
    assert set(sent["accept-encoding"].replace(" ", "").split(",")) == {"gzip", "br", "zstd"}


async def test_accept_encoding_follows_options(make_transport, semantics_server):
    client = Client(make_transport(enable_brotli=False, enable_zstd=False))
    r = await client.get(semantics_server.url + "/request")
    assert dict(r.json()["headers"])["accept-encoding"] == "gzip"


async def test_nothing_enabled_sends_no_accept_encoding(make_transport, semantics_server):
    client = Client(make_transport(enable_gzip=False, enable_brotli=False, enable_zstd=False))
    r = await client.get(semantics_server.url + "/request")
    assert "accept-encoding" not in dict(r.json()["headers"])


@pytest.mark.parametrize("version", [HTTPVersion.HTTP1, HTTPVersion.HTTP2], ids=["h1", "h2c"])
async def test_range_request_sends_no_accept_encoding(make_transport, semantics_server, version):
    # as reqwest: a range of an encoded representation is a slice no decoder can read
    client = Client(make_transport(http_version=version))
    r = await client.get(semantics_server.url + "/request", {"range": "bytes=0-9"})
    assert "accept-encoding" not in dict(r.json()["headers"])


async def test_disabled_coding_passes_body_through(make_transport, semantics_server):
    client = Client(make_transport(enable_gzip=False))
    r = await client.get(semantics_server.url + "/encoded?codings=gzip&size=100")
    assert r.headers["content-encoding"] == "gzip"
    assert r.content != payload(100)


async def test_decoded_even_when_caller_sets_accept_encoding(client, semantics_server):
    url = semantics_server.url + "/encoded?codings=br&size=100"
    r = await client.get(url, {"accept-encoding": "br"})
    assert r.content == payload(100)


async def test_corrupt_body_is_read_error(client, semantics_server):
    with pytest.raises(ReadError):
        await client.get(semantics_server.url + "/corrupt")
    # the transport is fine afterwards
    r = await client.get(semantics_server.url + "/encoded?codings=gzip&size=10")
    assert r.content == payload(10)


async def test_corrupt_body_streamed_is_read_error(client, semantics_server):
    async with client.stream("GET", semantics_server.url + "/corrupt") as r:
        with pytest.raises(ReadError):
            async for _ in r.content:
                pass


async def test_bomb_streams_in_bounded_pieces(client, semantics_server):
    # 16 MiB of zeros compresses to a few KiB; it arrives piece by piece, each piece bounded
    url = semantics_server.url + "/encoded?codings=gzip&size=0"
    async with client.stream("GET", url) as r:
        assert [c async for c in r.content] == []


async def test_head_with_content_encoding_has_no_body(client, semantics_server):
    r = await client.head(semantics_server.url + "/encoded?codings=gzip&size=100")
    assert r.content == b""
