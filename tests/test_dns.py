"""Name resolution and happy eyeballs (spec §0 "DNS"): all on loopback."""

from __future__ import annotations

import asyncio
import socket

import pytest

from pyqwest import Client, ConnectTimeout
from pyqwest._dns import Resolver, _interleave, connect_socket

# A name whose 64-byte label no DNS query can carry: resolution fails on this machine, and no
# packet goes to a nameserver (tests never leave loopback).
UNRESOLVABLE_URL = "http://" + "a" * 64 + ".invalid/"


async def test_localhost_resolves_and_connects(client, http_server):
    r = await client.get(http_server.url_for("/echo", "localhost"))
    assert r.status == 200


@pytest.mark.parametrize("system", [False, True])
async def test_both_dns_modes(make_transport, http_server, system):
    client = Client(make_transport(use_system_dns=system))
    assert (await client.get(http_server.url_for("/echo", "localhost"))).status == 200


async def test_unknown_host_is_connection_error(client):
    with pytest.raises(ConnectionError) as info:
        await client.get(UNRESOLVABLE_URL)
    assert not isinstance(info.value, ConnectTimeout)


async def test_cache_keeps_answers_for_ttl():
    loop = asyncio.get_running_loop()
    calls = []
    real = loop.getaddrinfo

    async def counting(*args, **kwargs):
        calls.append(args)
        return await real(*args, **kwargs)

    loop.getaddrinfo = counting  # type: ignore[method-assign]
    try:
        cached, uncached = Resolver(10.0), Resolver(None)
        for _ in range(3):
            await cached.resolve(loop, "localhost", 80)
        assert len(calls) == 1
        for _ in range(2):
            await uncached.resolve(loop, "localhost", 80)
        assert len(calls) == 3
    finally:
        del loop.getaddrinfo


async def test_ip_literals_skip_resolution():
    loop = asyncio.get_running_loop()
    r = Resolver(10.0)
    assert (await r.resolve(loop, "127.0.0.1", 1))[0][4] == ("127.0.0.1", 1)
    assert (await r.resolve(loop, "::1", 1))[0][0] == socket.AF_INET6


def test_interleave_alternates_families():
    a4 = [(socket.AF_INET, 1, 6, "", (f"127.0.0.{i}", 1)) for i in (1, 2)]
    a6 = [(socket.AF_INET6, 1, 6, "", ("::1", 1, 0, 0))]
    assert [i[0] for i in _interleave(a6 + a4)] == [socket.AF_INET6, socket.AF_INET, socket.AF_INET]


async def test_happy_eyeballs_falls_through_to_a_listening_address(http_server):
    # the first address refuses (nothing listens on 127.0.0.2:port... use a closed port on
    # 127.0.0.1), the second is the server: the connection still succeeds
    loop = asyncio.get_running_loop()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    infos = [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", dead_port)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", http_server.port)),
    ]
    sock = await connect_socket(loop, infos, delay=5.0)
    try:
        assert sock.getpeername()[1] == http_server.port
    finally:
        sock.close()


async def test_happy_eyeballs_all_fail():
    loop = asyncio.get_running_loop()
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    infos = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", p)) for p in ports]
    with pytest.raises(OSError):
        await connect_socket(loop, infos, delay=0.01)
