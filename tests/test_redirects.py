"""Redirects as the spec defines them (§0 "Redirects", §1.10, §1.12)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from pyqwest import Client, TooManyRedirects


def to(server, target: str, status: int = 302, host: str | None = None) -> str:
    return server.url_for(f"/redirect?status={status}&to={quote(target, safe='')}", host)


async def test_relative_location_followed(client, semantics_server):
    r = await client.get(to(semantics_server, "/request?x=1"))
    assert r.status == 200
    assert r.json()["query"] == "x=1"


async def test_chain_of_redirects(client, http_server):
    r = await client.get(http_server.url + "/redirect/3")
    assert r.status == 200


async def test_redirects_off_returns_3xx(make_transport, semantics_server):
    client = Client(make_transport(follow_redirects=False))
    r = await client.get(to(semantics_server, "/request"))
    assert r.status == 302
    assert r.headers["location"] == "/request"


async def test_max_redirects(make_transport, http_server):
    client = Client(make_transport(max_redirects=2))
    with pytest.raises(TooManyRedirects):
        await client.get(http_server.url + "/redirect/3")
    assert (await client.get(http_server.url + "/redirect/2")).status == 200


async def test_redirect_loop_ends(client, semantics_server):
    with pytest.raises(TooManyRedirects):
        await client.get(semantics_server.url + "/loop")


@pytest.mark.parametrize("status", [301, 302, 303])
async def test_post_becomes_get_without_body(client, semantics_server, status):
    url = to(semantics_server, "/request", status)
    r = await client.post(url, {"content-type": "x/y"}, b"data")
    info = r.json()
    assert info["method"] == "GET"
    assert info["body"] == ""
    sent = dict(info["headers"])
    assert "content-type" not in sent and "content-length" not in sent


async def test_303_turns_put_into_get(client, semantics_server):
    r = await client.put(to(semantics_server, "/request", 303), content=b"data")
    assert r.json()["method"] == "GET"


async def test_head_stays_head(client, semantics_server):
    r = await client.head(to(semantics_server, "/request", 303))
    assert r.status == 200 and r.content == b""


@pytest.mark.parametrize("status", [307, 308])
async def test_307_308_keep_method_and_body(client, semantics_server, status):
    r = await client.post(to(semantics_server, "/request", status), content=b"data")
    info = r.json()
    assert (info["method"], info["body"]) == ("POST", "data")


async def test_307_with_streamed_body_returns_the_3xx(client, semantics_server):
    async def body():
        yield b"data"

    r = await client.post(to(semantics_server, "/request", 307), content=body())
    assert r.status == 307


async def test_json_body_kept_on_307(client, semantics_server):
    r = await client.post(to(semantics_server, "/request", 307), content={"a": 1})
    info = r.json()
    assert info["body"] == '{"a": 1}'
    assert dict(info["headers"])["content-type"] == "application/json"


SENSITIVE = {"authorization": "Bearer x", "cookie": "a=b", "proxy-authorization": "Basic y"}


async def test_sensitive_headers_dropped_across_origins(client, semantics_server):
    # 127.0.0.1 -> localhost: another origin
    target = semantics_server.url_for("/request", "localhost")
    r = await client.get(to(semantics_server, target), {**SENSITIVE, "x-keep": "1"})
    sent = dict(r.json()["headers"])
    assert not set(SENSITIVE) & set(sent)
    assert sent["x-keep"] == "1"


async def test_sensitive_headers_kept_same_origin(client, semantics_server):
    r = await client.get(to(semantics_server, "/request"), SENSITIVE)
    sent = dict(r.json()["headers"])
    assert {k: sent[k] for k in SENSITIVE} == SENSITIVE


async def test_https_to_http_followed(client, semantics_tls_server, semantics_server):
    target = semantics_server.url + "/request"
    r = await client.get(to(semantics_tls_server, target), {"authorization": "Bearer x"})
    assert r.status == 200
    assert "authorization" not in dict(r.json()["headers"])


async def test_streamed_redirect(client, semantics_server):
    async with client.stream("GET", to(semantics_server, "/request?s=1")) as r:
        assert r.status == 200
        body = b"".join([c async for c in r.content])
    assert b'"query": "s=1"' in body


async def test_callers_headers_unchanged(client, semantics_server):
    from pyqwest import Headers

    h = Headers({"authorization": "x"})
    await client.get(to(semantics_server, semantics_server.url_for("/request", "localhost")), h)
    assert h == Headers({"authorization": "x"})


async def test_redirect_connection_reused(client, http_server):
    # the 3xx body is read, so its connection goes back to the pool for the next hop
    r1 = await client.get(http_server.url + "/redirect/3")
    r2 = await client.get(http_server.url + "/echo")
    assert r1.headers["x-conn-port"] == r2.headers["x-conn-port"]


@pytest.mark.parametrize(
    ("location", "target"),
    [
        # raw UTF-8 bytes, as servers send them: the characters meant, percent-encoded as UTF-8
        (b"/caf\xc3\xa9/\xe2\x9c\x93?q=\xc3\xa9", "/caf%C3%A9/%E2%9C%93?q=%C3%A9"),
        # not UTF-8: ISO-8859-1, the field's historical charset
        (b"/caf\xe9?q=\xe9", "/caf%C3%A9?q=%C3%A9"),
    ],
    ids=["utf-8", "latin-1"],
)
async def test_non_ascii_location_resolved_as_browsers_do(client, scripted, location, target):
    from servers.scripted import Conn

    seen: list[str] = []

    async def handler(conn: Conn) -> None:
        while (req := await conn.read_request()) is not None:
            seen.append(req.target)
            if len(seen) == 1:
                head = b"HTTP/1.1 302 Found\r\nlocation: " + location
                await conn.send(head + b"\r\ncontent-length: 0\r\n\r\n")
            else:
                await conn.send_response(200, b"there")

    scripted.handler = handler
    resp = await client.get(scripted.url + "/from")
    assert (resp.status, resp.content) == (200, b"there")
    assert seen == ["/from", target]
