"""Requests through real proxy servers on 127.0.0.1 (spec §3.5), async and sync:

- tinyproxy: http:// forwarded in absolute-form, https:// through CONNECT (Basic auth);
- microsocks: socks5:// (local DNS) and socks5h:// (the proxy resolves), username/password;
- a TLS front (a scripted TLS server relaying to tinyproxy): an https:// proxy URL, so TLS to
  the proxy and, for https origins, TLS to the origin inside it;
- scripted proxies for what real ones do not do: a recording forward proxy, CONNECT answered
  with 502, garbage, a body, a close mid-handshake, and a proxy that never answers.
Each failure is a typed error naming the proxy, never its credentials, and the transport's
next request works.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fds import HAVE_PROC, new_fds, open_fds
from servers import LoopThread, ScriptedServer
from servers.proxies import ProxyProcess, free_port, microsocks, tinyproxy, tls_front
from servers.scripted import Conn

import pyqwest
from pyqwest import ConnectTimeout, HTTPVersion, Proxy

AUTH = ("user", "pass")
CRED = "user:pass"


@pytest.fixture(scope="session")
def proxy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("proxies")


@pytest.fixture(scope="session")
def tiny(proxy_dir: Path) -> Iterator[ProxyProcess]:
    p = tinyproxy(proxy_dir, AUTH)
    yield p
    p.stop()


@pytest.fixture(scope="session")
def socks(proxy_dir: Path) -> Iterator[ProxyProcess]:
    p = microsocks(AUTH)
    yield p
    p.stop()


@pytest.fixture(scope="session")
def tls_proxy(
    server_loop: LoopThread, tiny: ProxyProcess, server_ssl_context: Callable[..., ssl.SSLContext]
) -> Iterator[ScriptedServer]:
    server = ScriptedServer(
        server_loop, tls_front("127.0.0.1", tiny.port), ssl_context=server_ssl_context()
    ).start()
    yield server
    server.stop()


def _check_echo(headers: Any, origin: Any) -> None:
    assert headers.get("x-echo-host") == f"127.0.0.1:{origin.port}"
    # credentials go to the proxy only
    assert headers.get("x-echo-proxy-authorization") is None


def _proxy_urls(
    tiny: ProxyProcess, socks: ProxyProcess, tls_front: ScriptedServer
) -> dict[str, str]:
    return {
        "http": tiny.url(auth=CRED),
        "socks5": socks.url("socks5", CRED),
        "socks5h": socks.url("socks5h", CRED),
        "https": f"https://{CRED}@127.0.0.1:{tls_front.port}",
    }


KINDS = ["http", "socks5", "socks5h", "https"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("origin_name", ["http_server", "https_server"])
async def test_async_through_proxy(
    kind: str, origin_name: str, request: pytest.FixtureRequest, make_transport: Any,
    tiny: ProxyProcess, socks: ProxyProcess, tls_proxy: ScriptedServer,
) -> None:
    origin = request.getfixturevalue(origin_name)
    t = make_transport(proxy=_proxy_urls(tiny, socks, tls_proxy)[kind])
    client = pyqwest.Client(t)
    # first, on a new connection: tinyproxy closes forwarded connections after each response
    # without saying so, and a POST is not retried on a stale one
    assert (await client.post(origin.url + "/echo", content=b"hello")).content == b"hello"
    for _ in range(2):
        async with client.stream("GET", origin.url + "/echo") as resp:
            assert resp.status == 200
            _check_echo(resp.headers, origin)
            # HTTP/2 through the tunnel (ALPN with the origin); plain http stays HTTP/1.1
            expect = HTTPVersion.HTTP2 if origin_name == "https_server" else HTTPVersion.HTTP1
            assert resp.http_version == expect
            assert b"".join([bytes(c) async for c in resp.content]) == b""


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("origin_name", ["http_server", "https_server"])
def test_sync_through_proxy(
    kind: str, origin_name: str, request: pytest.FixtureRequest, make_sync_transport: Any,
    tiny: ProxyProcess, socks: ProxyProcess, tls_proxy: ScriptedServer,
) -> None:
    origin = request.getfixturevalue(origin_name)
    t = make_sync_transport(proxy=_proxy_urls(tiny, socks, tls_proxy)[kind])
    client = pyqwest.SyncClient(t)
    assert client.post(origin.url + "/echo", content=b"hello").content == b"hello"
    for _ in range(2):
        with client.stream("GET", origin.url + "/echo") as resp:
            assert resp.status == 200
            _check_echo(resp.headers, origin)
            expect = HTTPVersion.HTTP2 if origin_name == "https_server" else HTTPVersion.HTTP1
            assert resp.http_version == expect
            assert b"".join(bytes(c) for c in resp.content) == b""


async def test_http1_forced_through_connect(make_transport: Any, tiny: ProxyProcess,
                                            https_server: Any) -> None:
    t = make_transport(proxy=tiny.url(auth=CRED), http_version=HTTPVersion.HTTP1)
    async with pyqwest.Client(t).stream("GET", https_server.url + "/echo") as resp:
        assert resp.http_version == HTTPVersion.HTTP1
        _check_echo(resp.headers, https_server)


# --- what goes to the proxy -------------------------------------------------------------------
def _recording_proxy(seen: list[Any]) -> Callable[[Conn], Any]:
    async def handler(conn: Conn) -> None:
        while True:
            req = await conn.read_request()
            if req is None:
                return
            seen.append((conn.index, req))
            await conn.send_response(200, b"proxied")
    return handler


async def test_forward_head(scripted: ScriptedServer, make_transport: Any) -> None:
    seen: list[Any] = []
    scripted.handler = _recording_proxy(seen)
    proxy = Proxy(scripted.url, auth=AUTH, headers={"x-tenant": "acme"})
    client = pyqwest.Client(make_transport(proxy=proxy))
    resp = await client.get("http://pyqwest.invalid/echo?q=1", headers={"x-mine": "1"})
    assert resp.content == b"proxied"
    await client.get("http://pyqwest.invalid/again")
    (i1, r1), (i2, r2) = seen
    assert r1.raw_head.startswith(b"GET http://pyqwest.invalid/echo?q=1 HTTP/1.1\r\n")
    assert r1.header("proxy-authorization") == "Basic dXNlcjpwYXNz"
    assert r1.header("x-tenant") == "acme"
    assert r1.header("host") == "pyqwest.invalid"
    assert r1.header("x-mine") == "1"
    assert r2.target == "http://pyqwest.invalid/again"
    assert i1 == i2  # pooled: the connection to the proxy is reused


def test_forward_head_sync(scripted: ScriptedServer, make_sync_transport: Any) -> None:
    seen: list[Any] = []
    scripted.handler = _recording_proxy(seen)
    client = pyqwest.SyncClient(make_sync_transport(proxy=scripted.url.replace("//", f"//{CRED}@")))
    assert client.get("http://pyqwest.invalid:8080/echo").content == b"proxied"
    client.get("http://pyqwest.invalid:8080/echo")
    (i1, r1), (i2, _r2) = seen
    assert r1.raw_head.startswith(b"GET http://pyqwest.invalid:8080/echo HTTP/1.1\r\n")
    assert r1.header("proxy-authorization") == "Basic dXNlcjpwYXNz"
    assert i1 == i2


def test_route_key_carries_the_proxy(make_sync_transport: Any) -> None:
    from pyqwest._url import parse_url

    proxy = Proxy("http://127.0.0.1:1", no_proxy="localhost")
    t = make_sync_transport(proxy=proxy)
    assert t._route(parse_url("http://127.0.0.1:5/")) == ("http", "127.0.0.1", 5, proxy)
    assert t._route(parse_url("http://localhost:5/")) == ("http", "localhost", 5)


async def test_no_proxy_goes_direct(scripted: ScriptedServer, make_transport: Any) -> None:
    port = free_port()
    t = make_transport(proxy=Proxy(scripted.url, no_proxy="127.0.0.1"))
    with pytest.raises(ConnectionError):
        await pyqwest.Client(t).get(f"http://127.0.0.1:{port}/")
    assert scripted.accepted == 0


async def test_scheme_filter(scripted: ScriptedServer, make_transport: Any,
                             http_server: Any) -> None:
    seen: list[Any] = []
    scripted.handler = _recording_proxy(seen)
    t = make_transport(proxy=[Proxy(scripted.url, scheme="https"), Proxy(scripted.url)])
    t2 = make_transport(proxy=Proxy(scripted.url, scheme="https"))
    resp = await pyqwest.Client(t2).get(http_server.url + "/echo")
    _check_echo(resp.headers, http_server)  # direct: the filter admits https only
    assert (await pyqwest.Client(t).get("http://pyqwest.invalid/")).content == b"proxied"
    assert len(seen) == 1


# --- failures -----------------------------------------------------------------------------------
async def _next_works(t: Any, origin: Any) -> None:
    resp = await pyqwest.Client(t).get(origin.url + "/echo")
    assert resp.status == 200


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("{tiny}", "requires authentication \\(407"),
        ("{tiny_bad}", "proxy 127.0.0.1:\\d+ (rejected the credentials|refused the tunnel)"),
        ("{socks_none}", "SOCKS5 proxy .* accepted none .*requires credentials"),
        ("{socks_bad}", "SOCKS5 proxy .* rejected the credentials"),
    ],
)
async def test_refused_credentials(
    url: str, match: str, make_transport: Any, tiny: ProxyProcess, socks: ProxyProcess,
    https_server: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="pyqwest")
    purl = url.format(
        tiny=tiny.url(), tiny_bad=tiny.url(auth="user:secret"),
        socks_none=socks.url("socks5h"), socks_bad=socks.url("socks5h", "user:secret"),
    )
    t = make_transport(proxy=purl)
    with pytest.raises(ConnectionError, match=match) as info:
        await pyqwest.Client(t).get(https_server.url + "/echo")
    assert not isinstance(info.value, ConnectTimeout)
    assert "secret" not in str(info.value)
    assert all("secret" not in r.getMessage() for r in caplog.records)
    # the good route of the same proxy works on a transport right after
    good = make_transport(proxy=purl.replace("user:secret@", "").replace("//", f"//{CRED}@", 1)
                          if "@" not in purl or "secret" in purl else purl)
    await _next_works(good, https_server)


def test_refused_credentials_sync(make_sync_transport: Any, tiny: ProxyProcess,
                                  socks: ProxyProcess, https_server: Any) -> None:
    for purl, match in [(tiny.url(), "407"), (socks.url("socks5", "user:secret"), "credentials")]:
        t = make_sync_transport(proxy=purl)
        with pytest.raises(ConnectionError, match=match) as info:
            pyqwest.SyncClient(t).get(https_server.url + "/echo")
        assert "secret" not in str(info.value)
    ok = make_sync_transport(proxy=socks.url("socks5", CRED))
    assert pyqwest.SyncClient(ok).get(https_server.url + "/echo").status == 200


async def test_socks_refuses_the_address(make_transport: Any, socks: ProxyProcess,
                                         http_server: Any) -> None:
    t = make_transport(proxy=socks.url("socks5h", CRED))
    closed = free_port()
    with pytest.raises(ConnectionError, match=r"SOCKS5 proxy .* refused the connection to"):
        await pyqwest.Client(t).get(f"http://127.0.0.1:{closed}/")
    await _next_works(t, http_server)


def test_socks_refuses_the_address_sync(make_sync_transport: Any, socks: ProxyProcess,
                                        http_server: Any) -> None:
    t = make_sync_transport(proxy=socks.url("socks5", CRED))
    with pytest.raises(ConnectionError, match="refused the connection"):
        pyqwest.SyncClient(t).get(f"http://127.0.0.1:{free_port()}/")
    assert pyqwest.SyncClient(t).get(http_server.url + "/echo").status == 200


def _connect_reply(data: bytes | None, close: bool = True) -> Callable[[Conn], Any]:
    async def handler(conn: Conn) -> None:
        req = await conn.read_request(body=False)
        assert req is not None and req.method == "CONNECT"
        if data is None:
            await conn.hang(10)
            return
        await conn.send(data)
        if not close:
            await conn.hang(10)
    return handler


BAD_REPLIES = [
    (b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n", "refused the tunnel .*502"),
    (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "invalid reply to CONNECT"),
    (b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello", "sent a body"),
    (b"HTTP/1.1 200 Connection established\r\n\r\nsurprise", "sent data after"),
    (b"HTTP/1.1 200 Connection", "closed the connection during CONNECT"),
    (b"", "closed the connection during CONNECT"),
]


@pytest.mark.parametrize(("reply", "match"), BAD_REPLIES)
async def test_bad_connect_replies(
    reply: bytes, match: str, scripted: ScriptedServer, make_transport: Any, https_server: Any,
) -> None:
    scripted.handler = _connect_reply(reply)
    t = make_transport(proxy=Proxy(scripted.url, auth=("user", "secret")))
    with pytest.raises(ConnectionError, match=match) as info:
        await pyqwest.Client(t).get(https_server.url + "/echo")
    assert "secret" not in str(info.value)
    # the failed connection was not pooled: the next request makes a new one
    scripted.handler = _connect_reply(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
    with pytest.raises(ConnectionError, match="rejected the credentials"):
        await pyqwest.Client(t).get(https_server.url + "/echo")
    assert scripted.accepted == 2


@pytest.mark.parametrize(("reply", "match"), BAD_REPLIES)
def test_bad_connect_replies_sync(
    reply: bytes, match: str, scripted: ScriptedServer, make_sync_transport: Any,
    https_server: Any,
) -> None:
    scripted.handler = _connect_reply(reply)
    t = make_sync_transport(proxy=Proxy(scripted.url, auth=("user", "secret")))
    with pytest.raises(ConnectionError, match=match) as info:
        pyqwest.SyncClient(t).get(https_server.url + "/echo")
    assert "secret" not in str(info.value)
    assert scripted.accepted == 1


async def test_stalling_proxy_connect_timeout(scripted: ScriptedServer, make_transport: Any,
                                              https_server: Any, tiny: ProxyProcess) -> None:
    scripted.handler = _connect_reply(None)
    t = make_transport(proxy=scripted.url, connect_timeout=0.3)
    with pytest.raises(ConnectTimeout):
        await pyqwest.Client(t).get(https_server.url + "/echo")
    ok = make_transport(proxy=tiny.url(auth=CRED), connect_timeout=5)
    await _next_works(ok, https_server)


def test_stalling_proxy_connect_timeout_sync(scripted: ScriptedServer, make_sync_transport: Any,
                                             https_server: Any) -> None:
    scripted.handler = _connect_reply(None)
    t = make_sync_transport(proxy=scripted.url, connect_timeout=0.3)
    with pytest.raises(ConnectTimeout):
        pyqwest.SyncClient(t).get(https_server.url + "/echo")


async def test_proxy_refused(make_transport: Any) -> None:
    port = free_port()
    t = make_transport(proxy=f"http://{CRED}@127.0.0.1:{port}")
    with pytest.raises(ConnectionError, match=f"proxy 127.0.0.1:{port}") as info:
        await pyqwest.Client(t).get("https://127.0.0.1:1/")
    assert "pass" not in str(info.value)


async def test_credentials_never_follow_a_redirect(
    scripted: ScriptedServer, make_transport: Any, http_server: Any
) -> None:
    async def handler(conn: Conn) -> None:
        req = await conn.read_request()
        assert req is not None and req.header("proxy-authorization") == "Basic dXNlcjpwYXNz"
        await conn.send_response(302, headers=[("location", http_server.url + "/echo")])

    scripted.handler = handler
    # the redirect leads to a host the proxy does not serve: it goes direct, without them
    t = make_transport(proxy=Proxy(scripted.url, auth=AUTH, no_proxy="127.0.0.1"))
    resp = await pyqwest.Client(t).get("http://pyqwest.invalid/start")
    assert resp.status == 200
    _check_echo(resp.headers, http_server)


def test_credentials_never_follow_a_redirect_sync(
    scripted: ScriptedServer, make_sync_transport: Any, http_server: Any
) -> None:
    async def handler(conn: Conn) -> None:
        await conn.read_request()
        await conn.send_response(302, headers=[("location", http_server.url + "/echo")])

    scripted.handler = handler
    t = make_sync_transport(proxy=Proxy(scripted.url, auth=AUTH, no_proxy="127.0.0.1"))
    resp = pyqwest.SyncClient(t).get("http://pyqwest.invalid/start")
    assert resp.status == 200
    _check_echo(resp.headers, http_server)


@pytest.mark.skipif(not HAVE_PROC, reason="needs /proc")
async def test_failed_handshakes_leak_nothing(
    scripted: ScriptedServer, make_transport: Any, https_server: Any, socks: ProxyProcess
) -> None:
    scripted.handler = _connect_reply(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
    t = make_transport(proxy=scripted.url)
    t_socks = make_transport(proxy=socks.url("socks5h", "user:secret"))
    client, client_socks = pyqwest.Client(t), pyqwest.Client(t_socks)
    for c in (client, client_socks):  # warm-up: lazily made objects are not leaks
        with pytest.raises(ConnectionError):
            await c.get(https_server.url + "/echo")
    before = open_fds()
    for _ in range(10):
        for c in (client, client_socks):
            with pytest.raises(ConnectionError):
                await c.get(https_server.url + "/echo")
    import asyncio

    await asyncio.sleep(0.1)  # let aborted transports finish closing
    assert new_fds(before) == set()
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    assert tasks == []


@pytest.mark.skipif(not HAVE_PROC, reason="needs /proc")
def test_failed_handshakes_leak_nothing_sync(
    scripted: ScriptedServer, make_sync_transport: Any, https_server: Any, socks: ProxyProcess
) -> None:
    import threading

    scripted.handler = _connect_reply(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
    clients = [pyqwest.SyncClient(make_sync_transport(proxy=scripted.url)),
               pyqwest.SyncClient(make_sync_transport(proxy=socks.url("socks5", "user:secret")))]
    for c in clients:
        with pytest.raises(ConnectionError):
            c.get(https_server.url + "/echo")
    before, threads = open_fds(), threading.active_count()
    for _ in range(10):
        for c in clients:
            with pytest.raises(ConnectionError):
                c.get(https_server.url + "/echo")
    assert new_fds(before) == set()
    assert threading.active_count() <= threads


async def test_forced_http2_to_http_origin_tunnels(
    make_transport: Any, make_sync_transport: Any, tiny: ProxyProcess, http_server: Any
) -> None:
    # h2c prior knowledge cannot be forwarded: the request goes through a CONNECT tunnel
    t = make_transport(proxy=tiny.url(auth=CRED), http_version=HTTPVersion.HTTP2)
    async with pyqwest.Client(t).stream("GET", http_server.url + "/echo") as resp:
        assert resp.http_version == HTTPVersion.HTTP2
        _check_echo(resp.headers, http_server)
    st = make_sync_transport(proxy=tiny.url(auth=CRED), http_version=HTTPVersion.HTTP2)
    with pyqwest.SyncClient(st).stream("GET", http_server.url + "/echo") as sresp:
        assert sresp.http_version == HTTPVersion.HTTP2
