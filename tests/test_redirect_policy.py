"""Unit tests of pyqwest._redirects: which redirect to follow and how."""

from __future__ import annotations

import pytest

from pyqwest._redirects import (
    CONTENT_HEADERS,
    REDIRECT_STATUSES,
    SENSITIVE_HEADERS,
    Redirect,
    is_redirect,
    next_request,
)

BASE = "https://example.com/a/b?q=1"


@pytest.mark.parametrize("status", range(100, 600))
def test_followed_statuses(status: int) -> None:
    followed = status in (301, 302, 303, 307, 308)
    assert is_redirect(status) is followed
    assert (next_request("GET", BASE, status, "/next") is not None) is followed
    assert (status in REDIRECT_STATUSES) is followed


@pytest.mark.parametrize(
    ("status", "method", "new_method", "keep_body"),
    [
        (301, "GET", "GET", False),
        (301, "HEAD", "HEAD", False),
        (301, "POST", "GET", False),
        (301, "PUT", "GET", False),
        (302, "GET", "GET", False),
        (302, "HEAD", "HEAD", False),
        (302, "POST", "GET", False),
        (302, "DELETE", "GET", False),
        (302, "PATCH", "GET", False),
        (303, "POST", "GET", False),
        (303, "HEAD", "HEAD", False),
        (303, "OPTIONS", "GET", False),
        (303, "CUSTOM", "GET", False),
        (307, "GET", "GET", True),
        (307, "POST", "POST", True),
        (307, "PUT", "PUT", True),
        (307, "HEAD", "HEAD", True),
        (308, "POST", "POST", True),
        (308, "DELETE", "DELETE", True),
        (308, "CUSTOM", "CUSTOM", True),
    ],
)
def test_method_and_body(status: int, method: str, new_method: str, keep_body: bool) -> None:
    r = next_request(method, BASE, status, "/next")
    assert r is not None
    assert r.method == new_method
    assert r.keep_body is keep_body
    assert r.url == "https://example.com/next"
    if keep_body:
        assert r.drop_headers == frozenset()
    else:
        assert r.drop_headers == CONTENT_HEADERS
        assert {
            "content-type",
            "content-length",
            "transfer-encoding",
            "content-encoding",
        } == CONTENT_HEADERS


@pytest.mark.parametrize("status", [307, 308])
def test_unreplayable_body_ends_the_chain_on_307_308(status: int) -> None:
    assert next_request("POST", BASE, status, "/next", body_replayable=False) is None


@pytest.mark.parametrize("status", [301, 302, 303])
def test_unreplayable_body_is_dropped_on_301_302_303(status: int) -> None:
    r = next_request("POST", BASE, status, "/next", body_replayable=False)
    assert r is not None
    assert r.method == "GET"
    assert not r.keep_body


@pytest.mark.parametrize(
    ("location", "url"),
    [
        ("/next", "https://example.com/next"),
        ("next", "https://example.com/a/next"),
        ("../up", "https://example.com/up"),
        ("?r=2", "https://example.com/a/b?r=2"),
        ("#frag", "https://example.com/a/b?q=1#frag"),
        ("//other.example:8443/x", "https://other.example:8443/x"),
        ("http://example.com/plain", "http://example.com/plain"),
        ("HTTPS://EXAMPLE.COM:443/Up", "https://example.com/Up"),
        ("/with space/ü", "https://example.com/with%20space/%C3%BC"),
        ("/tab\there", "https://example.com/tabhere"),
        ("https://bücher.example/", "https://xn--bcher-kva.example/"),
        ("  /padded  ", "https://example.com/padded"),
    ],
)
def test_location_is_resolved_against_the_request_url(location: str, url: str) -> None:
    r = next_request("GET", BASE, 302, location)
    assert r is not None
    assert r.url == url


@pytest.mark.parametrize(
    "location",
    [None, "", "   ", "http://[::1", "http://", "ftp://example.com/x", "mailto:a@b.c", "data:,x"],
)
def test_unusable_location_returns_the_response(location: str | None) -> None:
    assert next_request("GET", BASE, 302, location) is None


@pytest.mark.parametrize(
    ("location", "cross"),
    [
        ("/same", False),
        ("https://example.com:443/same", False),
        ("https://EXAMPLE.com/same", False),
        ("https://other.example/", True),
        ("https://sub.example.com/", True),
        ("https://example.com:8443/", True),
        ("http://example.com/", True),  # scheme change: another origin
    ],
)
@pytest.mark.parametrize("status", [302, 307])
def test_sensitive_headers_dropped_across_origins(location: str, cross: bool, status: int) -> None:
    r = next_request("POST", BASE, status, location)
    assert r is not None
    assert {
        "authorization",
        "cookie",
        "cookie2",
        "proxy-authorization",
        "www-authenticate",
    } == SENSITIVE_HEADERS
    assert (
        r.drop_headers >= SENSITIVE_HEADERS if cross else not (SENSITIVE_HEADERS & r.drop_headers)
    )
    assert (r.drop_headers >= CONTENT_HEADERS) is (status == 302)


def test_https_to_http_is_followed_without_referer() -> None:
    r = next_request("GET", "https://example.com/secret?token=1", 301, "http://example.com/")
    assert r is not None
    assert r.url == "http://example.com/"
    assert r.referer is None
    assert "referer" in r.drop_headers
    assert "authorization" in r.drop_headers


def test_referer_has_no_credentials_or_fragment() -> None:
    r = next_request("GET", "https://user:pw@example.com/p?q=1#frag", 302, "https://other.example/")
    assert r is not None
    assert r.referer == "https://example.com/p?q=1"
    assert "referer" not in r.drop_headers
    r = next_request("GET", "http://example.com/p", 302, "https://example.com/")
    assert r is not None
    assert r.referer == "http://example.com/p"


def test_ipv6_and_ports() -> None:
    r = next_request("GET", "http://[::1]:8080/a", 307, "/b")
    assert r is not None
    assert r.url == "http://[::1]:8080/b"
    assert r.drop_headers == frozenset()
    r = next_request("GET", "http://[::1]:8080/a", 307, "http://[::1]:8081/b")
    assert r is not None
    assert r.drop_headers >= SENSITIVE_HEADERS
    # an explicit default port is the same origin
    r = next_request("GET", "http://localhost/a", 307, "http://localhost:80/b")
    assert r is not None
    assert r.drop_headers == frozenset()


def test_result_is_a_frozen_value() -> None:
    r = next_request("GET", BASE, 302, "/x")
    assert r == Redirect("GET", "https://example.com/x", False, CONTENT_HEADERS, BASE)
    with pytest.raises(AttributeError):
        r.method = "POST"  # type: ignore[misc]
