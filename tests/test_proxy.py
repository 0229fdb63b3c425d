"""Proxy (spec §3.5): validation, messages, the masked repr, the transport's proxy= option,
no_proxy matching, the scheme filter and the environment. Pure: no sockets."""

from __future__ import annotations

import pytest

import pyqwest
from pyqwest import Proxy
from pyqwest._no_proxy import NoProxy
from pyqwest._proxy import env_proxies, proxies_option, select_proxy


def test_exported() -> None:
    assert "Proxy" in pyqwest.__all__
    assert pyqwest.Proxy is Proxy
    assert Proxy.__doc__


def test_repr_masks_the_password() -> None:
    assert repr(Proxy("http://user:pass@localhost:8030")) == (
        'Proxy(url="http://user:********@localhost:8030/")'
    )
    assert repr(Proxy("http://localhost:8030", scheme="https")) == (
        'Proxy(url="http://localhost:8030/", scheme="https")'
    )
    assert "secret" not in repr(Proxy("socks5h://u:secret@127.0.0.1:1080"))
    assert "secret" not in repr(Proxy("http://127.0.0.1:1", auth=("u", "secret")))


def test_credentials_become_basic_auth() -> None:
    assert ("proxy-authorization", "Basic dXNlcjpwYXNz") in Proxy(
        "http://user:pass@localhost:8030"
    ).head_pairs()
    # auth= wins over the URL's; percent-encoded URL credentials are decoded
    p = Proxy("http://a:b@localhost:1", auth=("user", "pass"))
    assert p.head_pairs() == [("proxy-authorization", "Basic dXNlcjpwYXNz")]
    assert Proxy("http://us%40er:p%3Ass@h").auth == ("us@er", "p:ss")
    assert Proxy("http://h").head_pairs() == []


def test_headers_go_to_the_proxy() -> None:
    p = Proxy("http://h:1", headers={"X-Tenant": "acme"})
    assert p.head_pairs() == [("x-tenant", "acme")]
    with pytest.raises(ValueError):
        Proxy("http://h:1", headers={"x-bad": "a\r\nb"})


@pytest.mark.parametrize(
    ("url", "kind", "host", "port"),
    [
        ("http://h", "http", "h", 80),
        ("https://h", "https", "h", 443),
        ("socks5://h", "socks5", "h", 1080),
        ("socks5h://[::1]:9", "socks5h", "::1", 9),
        ("127.0.0.1:3128", "http", "127.0.0.1", 3128),  # no scheme: http://, as reqwest
    ],
)
def test_schemes(url: str, kind: str, host: str, port: int) -> None:
    p = Proxy(url)
    assert (p.kind, p.host, p.port) == (kind, host, port)


@pytest.mark.parametrize("url", ["http://[bad", "ftp://h", "http://", "http://u:secret@[bad"])
def test_bad_url(url: str) -> None:
    with pytest.raises(ValueError, match=r"^Failed to parse proxy URL") as info:
        Proxy(url)
    assert "secret" not in str(info.value)


def test_bad_scheme_filter() -> None:
    msg = r"^Invalid proxy scheme 'ftp', must be 'http' or 'https'$"
    with pytest.raises(ValueError, match=msg):
        Proxy("http://h", scheme="ftp")  # type: ignore[arg-type]


def test_bad_argument_types() -> None:
    with pytest.raises(TypeError):
        Proxy(b"http://h")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Proxy("http://h", auth=("u",))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Proxy("http://h", no_proxy=3)  # type: ignore[arg-type]


def test_option_forms() -> None:
    p = Proxy("http://a")
    assert proxies_option(None) == ()
    assert proxies_option(p) == (p,)
    (only,) = proxies_option("http://b:1")
    assert only.host == "b"
    got = proxies_option(["http://c", p])
    assert got[1] is p and got[0].host == "c"
    assert proxies_option([]) == ()


@pytest.mark.parametrize("bad", [3, b"http://h", object(), ["http://h", 3], [None]])
def test_option_type_errors(bad: object) -> None:
    msg = r"^proxy must be a str, Proxy, or sequence of str \\| Proxy$"
    with pytest.raises(TypeError, match=msg):
        proxies_option(bad)
    with pytest.raises(TypeError, match=msg):
        pyqwest.HTTPTransport(proxy=bad)
    with pytest.raises(TypeError, match=msg):
        pyqwest.SyncHTTPTransport(proxy=bad)


def test_option_bad_url_from_transports() -> None:
    with pytest.raises(ValueError, match=r"^Failed to parse proxy URL"):
        pyqwest.HTTPTransport(proxy="http://[bad")
    with pytest.raises(ValueError, match=r"^Failed to parse proxy URL"):
        pyqwest.SyncHTTPTransport(proxy=["http://[bad"])


@pytest.mark.parametrize(
    ("spec", "host", "bypass"),
    [
        ("*", "anything.example", True),
        ("example.com", "example.com", True),
        ("example.com", "a.b.example.com", True),
        ("example.com", "badexample.com", False),
        (".example.com", "example.com", True),
        (".example.com", "x.example.com", True),
        ("*.example.com", "x.example.com", True),
        ("EXAMPLE.com", "Example.COM", True),
        ("example.com:8080", "example.com", True),
        ("localhost, 10.0.0.0/8", "10.1.2.3", True),
        ("10.0.0.0/8", "11.0.0.1", False),
        ("127.0.0.1", "127.0.0.1", True),
        ("127.0.0.1", "localhost", False),  # names and IPs are not mixed (no resolution)
        ("localhost", "127.0.0.1", False),
        ("::1", "::1", True),
        ("[::1]", "::1", True),
        ("fd00::/8", "fd12::1", True),
        ("127.0.0.1:80", "127.0.0.1", True),
        ("", "example.com", False),
        (" , ,", "example.com", False),
    ],
)
def test_no_proxy(spec: str, host: str, bypass: bool) -> None:
    assert NoProxy(spec).matches(host) is bypass


def test_selection_first_match_and_scheme_filter() -> None:
    a = Proxy("http://a", scheme="https")
    b = Proxy("http://b", no_proxy="skip.example")
    c = Proxy("http://c")
    proxies = (a, b, c)
    assert select_proxy(proxies, "https", "x.example") is a
    assert select_proxy(proxies, "http", "x.example") is b
    assert select_proxy(proxies, "http", "skip.example") is c  # b's no_proxy: on to the next
    assert select_proxy((b,), "http", "skip.example") is None  # direct


def _env(**kw: str) -> dict[str, str]:
    return dict(kw)


def test_env_reading() -> None:
    got = env_proxies(_env(HTTP_PROXY="http://h:1", HTTPS_PROXY="http://s:2", NO_PROXY="n.example"))
    assert select_proxy(got, "http", "x").host == "h"  # type: ignore[union-attr]
    assert select_proxy(got, "https", "x").host == "s"  # type: ignore[union-attr]
    assert select_proxy(got, "https", "a.n.example") is None
    # ALL_PROXY covers what the specific ones leave unset
    got = env_proxies(_env(ALL_PROXY="socks5h://all:3", HTTP_PROXY="http://h:1"))
    assert select_proxy(got, "http", "x").host == "h"  # type: ignore[union-attr]
    assert select_proxy(got, "https", "x").host == "all"  # type: ignore[union-attr]
    # lower-case forms; upper-case first
    got = env_proxies(_env(http_proxy="http://lower:1", no_proxy="*"))
    assert select_proxy(got, "http", "x") is None
    got = env_proxies(_env(http_proxy="http://lower:1"))
    assert select_proxy(got, "http", "x").host == "lower"  # type: ignore[union-attr]
    got = env_proxies(_env(HTTP_PROXY="http://upper:1", http_proxy="http://lower:1"))
    assert select_proxy(got, "http", "x").host == "upper"  # type: ignore[union-attr]
    # no scheme means http://
    got = env_proxies(_env(HTTPS_PROXY="127.0.0.1:3128"))
    assert select_proxy(got, "https", "x").port == 3128  # type: ignore[union-attr]


def test_env_cgi_ignores_http_proxy() -> None:
    env = _env(REQUEST_METHOD="GET", HTTP_PROXY="http://h:1", http_proxy="http://h:1",
               HTTPS_PROXY="http://s:2")
    got = env_proxies(env)
    assert select_proxy(got, "http", "x") is None
    assert select_proxy(got, "https", "x").host == "s"  # type: ignore[union-attr]


def test_env_empty_or_bad_values_mean_none() -> None:
    assert env_proxies(_env(HTTP_PROXY="", http_proxy="http://lower:1")) == ()
    assert env_proxies(_env(HTTP_PROXY="http://[bad", HTTPS_PROXY="ftp://x")) == ()
    assert env_proxies({}) == ()


def test_given_proxies_switch_the_environment_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://from-env:1")
    t = pyqwest.SyncHTTPTransport(proxy="http://given:2")
    assert [p.host for p in t._proxies] == ["given"]
    t.close()
    t = pyqwest.SyncHTTPTransport()
    assert [p.host for p in t._proxies] == ["from-env"]
    t.close()
    t = pyqwest.SyncHTTPTransport(proxy=[])
    assert [p.host for p in t._proxies] == ["from-env"]
    t.close()
