"""URLs: WHATWG parsing, IPv6 literals, default ports, params, userinfo (spec §0, §1.3)."""

from __future__ import annotations

import base64
import socket

import pytest
from servers.hypercorn_server import serving
from servers.semantics import app as semantics_app

from pyqwest import Request


def _has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def ipv6_server(server_loop):
    if not _has_ipv6():
        pytest.skip("no IPv6 loopback on this machine")
    with serving(server_loop, semantics_app, host="::1") as server:
        yield server


async def test_ipv6_literal(client, ipv6_server):
    r = await client.get(f"http://[::1]:{ipv6_server.port}/request")
    assert dict(r.json()["headers"])["host"] == f"[::1]:{ipv6_server.port}"


async def test_userinfo_becomes_basic_auth(client, semantics_server):
    url = f"http://user:pa%20ss@127.0.0.1:{semantics_server.port}/request"
    r = await client.get(url)
    auth = dict(r.json()["headers"])["authorization"]
    assert auth == "Basic " + base64.b64encode(b"user:pa ss").decode()


async def test_explicit_authorization_wins_over_userinfo(client, semantics_server):
    url = f"http://user:pw@127.0.0.1:{semantics_server.port}/request"
    r = await client.get(url, {"authorization": "Bearer t"})
    assert dict(r.json()["headers"])["authorization"] == "Bearer t"


async def test_params_percent_encoded(client, semantics_server):
    r = await client.get(semantics_server.url + "/request?a=1", params={"q": "x y/z?&", "k": None})
    assert r.json()["query"] == "a=1&q=x+y%2Fz%3F%26&k"


async def test_unicode_path_and_query_arrive_encoded(client, semantics_server):
    r = await client.get(semantics_server.url + "/request?q=ü")
    assert r.json()["query"] == "q=%C3%BC"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.com", "http://example.com/"),
        ("http://EXAMPLE.com:80/a/./b/../c", "http://example.com/a/c"),
        ("https://example.com:443/", "https://example.com/"),
        ("http://bücher.example/", "http://xn--bcher-kva.example/"),
        ("http://127.1/", "http://127.0.0.1/"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("http://h/a b", "http://h/a%20b"),
        ("http://h/p#frag", "http://h/p#frag"),
    ],
)
def test_url_normalized(url, expected):
    assert Request("GET", url).url == expected


@pytest.mark.parametrize("url", ["nope", "http://", "ftp://h/", "http://a b/", "http://h:99999/"])
def test_malformed_url_is_value_error(url):
    with pytest.raises(ValueError, match="Invalid URL"):
        Request("GET", url)


async def test_malformed_url_fails_before_connecting(client):
    with pytest.raises(ValueError, match="Invalid URL"):
        await client.get("http://exa mple.com/")


async def test_tab_and_newline_stripped_from_url(client, semantics_server):
    r = await client.get(semantics_server.url + "/req\tuest?a=\n1")
    assert r.json()["query"] == "a=1"
