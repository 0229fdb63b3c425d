"""The transport's cookie store (enable_cookie_store; spec §1.10, RFC 6265)."""

from __future__ import annotations

from urllib.parse import quote

from pyqwest import Client


def set_cookie(server, *cookies: str, to: str | None = None) -> str:
    q = "&".join(f"c={quote(c, safe='')}" for c in cookies)
    if to is not None:
        q += f"&to={quote(to, safe='')}"
    return server.url + "/set-cookie?" + q


async def sent_cookie(client, server, path="/request"):
    r = await client.get(server.url + path)
    return dict(r.json()["headers"]).get("cookie")


async def test_cookie_stored_and_sent(make_transport, semantics_server):
    client = Client(make_transport(enable_cookie_store=True))
    await client.get(set_cookie(semantics_server, "testcookie=hello"))
    assert await sent_cookie(client, semantics_server) == "testcookie=hello"


async def test_store_off_sends_nothing(make_transport, semantics_server):
    client = Client(make_transport())
    await client.get(set_cookie(semantics_server, "testcookie=hello"))
    assert await sent_cookie(client, semantics_server) is None


async def test_cookie_kept_per_transport(make_transport, semantics_server):
    a = Client(make_transport(enable_cookie_store=True))
    b = Client(make_transport(enable_cookie_store=True))
    await a.get(set_cookie(semantics_server, "x=1"))
    assert await sent_cookie(b, semantics_server) is None


async def test_path_attribute(make_transport, semantics_server):
    client = Client(make_transport(enable_cookie_store=True))
    await client.get(set_cookie(semantics_server, "p=1; Path=/other"))
    assert await sent_cookie(client, semantics_server) is None


async def test_expired_cookie_removed(make_transport, semantics_server):
    client = Client(make_transport(enable_cookie_store=True))
    await client.get(set_cookie(semantics_server, "gone=1"))
    await client.get(set_cookie(semantics_server, "gone=1; Max-Age=0"))
    assert await sent_cookie(client, semantics_server) is None


async def test_cookie_from_redirect_response_sent_on_next_hop(make_transport, semantics_server):
    client = Client(make_transport(enable_cookie_store=True))
    r = await client.get(set_cookie(semantics_server, "hop=1", to="/request"))
    assert dict(r.json()["headers"])["cookie"] == "hop=1"


async def test_callers_cookie_header_wins(make_transport, semantics_server):
    client = Client(make_transport(enable_cookie_store=True))
    await client.get(set_cookie(semantics_server, "a=1"))
    r = await client.get(semantics_server.url + "/request", {"cookie": "mine=1"})
    assert dict(r.json()["headers"])["cookie"] == "mine=1"


async def test_host_only_cookie_not_sent_to_other_host(make_transport, semantics_server):
    client = Client(make_transport(enable_cookie_store=True))
    await client.get(set_cookie(semantics_server, "h=1"))
    r = await client.get(semantics_server.url_for("/request", "localhost"))
    assert "cookie" not in dict(r.json()["headers"])


async def test_huge_max_age_does_not_fail_the_request(make_transport, semantics_server):
    """Hundreds of digits in Max-Age made the request fail with a bare OverflowError; the
    cookie is stored (capped at 400 days) and sent."""
    client = Client(make_transport(enable_cookie_store=True))
    resp = await client.get(set_cookie(semantics_server, "big=1; Max-Age=" + "9" * 400))
    assert resp.status == 200
    assert await sent_cookie(client, semantics_server) == "big=1"
