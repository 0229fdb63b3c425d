"""pyqwest.Request (spec 1.3 / 1.4): content, params, URL and method handling; no server."""

from __future__ import annotations

import re

import pytest

import pyqwest
from pyqwest import Headers, Request

# Multipart/SyncMultipart belong to a later issue; their tests skip until the names exist.
Multipart = getattr(pyqwest, "Multipart", None)
Part = getattr(pyqwest, "Part", None)
SyncMultipart = getattr(pyqwest, "SyncMultipart", None)
needs_multipart = pytest.mark.skipif(
    Multipart is None, reason="pyqwest.Multipart not implemented yet"
)
needs_sync_multipart = pytest.mark.skipif(
    SyncMultipart is None, reason="pyqwest.SyncMultipart not implemented yet"
)

CONTENT_TYPE_ERROR = "Content must be bytes, an async iterator of bytes, or Multipart"
MULTIPART_CT_ERROR = (
    "Content-type header must be unset or multipart/form-data for multipart content"
)


async def agen(*chunks: bytes):
    for c in chunks:
        yield c


# --- basics --------------------------------------------------------------------------------


def test_defaults():
    req = Request("GET", "http://example.com/path")
    assert req.method == "GET"
    assert req.url == "http://example.com/path"
    assert isinstance(req.headers, Headers)
    assert len(req.headers) == 0
    assert req.content == b""
    assert req._json is False


def test_headers_kept():
    h = Headers({"x-test": "foo"})
    req = Request("GET", "http://example.com/", headers=h)
    assert req.headers == {"x-test": "foo"}


def test_is_final():
    with pytest.raises(TypeError):

        class Sub(Request):  # type: ignore[misc]
            pass


# --- content -------------------------------------------------------------------------------


def test_content_none_is_empty_bytes():
    assert Request("POST", "http://example.com/", content=None).content == b""


def test_content_bytes():
    assert Request("POST", "http://example.com/", content=b"hello").content == b"hello"


def test_content_bytearray():
    req = Request("POST", "http://example.com/", content=bytearray(b"hello"))
    assert bytes(req.content) == b"hello"


def test_content_dict_is_json_bytes_and_headers_untouched():
    req = Request("POST", "http://example.com/", content={"key": "value"})
    assert req.content == b'{"key": "value"}'
    assert req._json is True
    assert req.headers == {}


def test_content_dict_default_separators_exact():
    req = Request("POST", "http://example.com/", content={"message": "Hello, World!"})
    assert req.content == b'{"message": "Hello, World!"}'


def test_content_dict_non_ascii_is_utf8():
    import json

    req = Request("POST", "http://example.com/", content={"k": "日本"})
    assert req.content == json.dumps({"k": "日本"}).encode("utf-8")


def test_content_dict_with_content_type_keeps_headers():
    h = Headers({"content-type": "text/plain"})
    req = Request("POST", "http://example.com/", headers=h, content={"a": 1})
    assert req._json is True
    assert req.headers.getall("content-type") == ["text/plain"]


def test_content_bytes_is_not_json():
    assert Request("POST", "http://example.com/", content=b"{}")._json is False


async def test_content_async_iterator_returned():
    gen = agen(b"a", b"b")
    req = Request("POST", "http://example.com/", content=gen)
    content = req.content
    assert not isinstance(content, bytes | bytearray)
    assert [c async for c in content] == [b"a", b"b"]


@pytest.mark.parametrize(
    "content",
    ["a string", 42, 1.5, ["list"], [b"bytes", b"list"], ("t",), object()],
    ids=["str", "int", "float", "list", "bytes-list", "tuple", "object"],
)
def test_content_wrong_type(content):
    with pytest.raises(TypeError, match=f"^{re.escape(CONTENT_TYPE_ERROR)}$"):
        Request("POST", "http://example.com/", content=content)


@needs_sync_multipart
def test_content_sync_multipart_rejected():
    with pytest.raises(TypeError, match=f"^{re.escape(CONTENT_TYPE_ERROR)}$"):
        Request("POST", "http://example.com/", content=SyncMultipart([("a", b"1")]))


def test_content_sync_iterator_rejected():
    with pytest.raises(TypeError, match=f"^{re.escape(CONTENT_TYPE_ERROR)}$"):
        Request("POST", "http://example.com/", content=iter([b"a"]))


# --- multipart -----------------------------------------------------------------------------

BOUNDARY_CT = re.compile(r"^multipart/form-data; boundary=[0-9a-f]{32}$")


@needs_multipart
def test_multipart_sets_content_type_on_a_copy():
    h = Headers({"x-keep": "1"})
    req = Request("POST", "http://example.com/", headers=h, content=Multipart([("a", Part(b"1"))]))
    assert BOUNDARY_CT.match(req.headers["content-type"])
    assert req.headers["x-keep"] == "1"
    assert "content-type" not in h
    assert h == {"x-keep": "1"}


@needs_multipart
def test_multipart_boundary_unique_per_request():
    mp = Multipart([("a", b"1")])
    b1 = Request("POST", "http://example.com/", content=mp).headers["content-type"]
    b2 = Request("POST", "http://example.com/", content=mp).headers["content-type"]
    assert b1 != b2


@needs_multipart
def test_multipart_bare_content_type_gains_boundary():
    h = Headers({"content-type": "multipart/form-data"})
    req = Request("POST", "http://example.com/", headers=h, content=Multipart([("a", b"1")]))
    assert BOUNDARY_CT.match(req.headers["content-type"])
    assert h["content-type"] == "multipart/form-data"


@needs_multipart
def test_multipart_conflicting_content_type():
    h = Headers({"content-type": "application/json"})
    with pytest.raises(ValueError, match=f"^{re.escape(MULTIPART_CT_ERROR)}$"):
        Request("POST", "http://example.com/", headers=h, content=Multipart([("a", b"1")]))


# --- params --------------------------------------------------------------------------------

BASE = "http://example.com/path"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"foo": "bar"}, BASE + "?foo=bar"),
        ({"key1": "value1", "key2": None}, BASE + "?key1=value1&key2"),
        ([("a", "1"), ("a", "2")], BASE + "?a=1&a=2"),
        ([("k", None), ("k", "v")], BASE + "?k&k=v"),
        ({"key": "value with spaces"}, BASE + "?key=value+with+spaces"),
        ({"key": "value/with/special?chars&"}, BASE + "?key=value%2Fwith%2Fspecial%3Fchars%26"),
        ((("x", "1"), ("y", "2")), BASE + "?x=1&y=2"),
    ],
    ids=["simple", "none-bare-key", "repeated", "bare-then-value", "spaces", "special", "tuple"],
)
def test_params(params, expected):
    assert Request("GET", BASE, params=params).url == expected


def test_params_appended_after_existing_query():
    req = Request("GET", BASE + "?a=1", params={"b": "2"})
    assert req.url == BASE + "?a=1&b=2"


def test_params_generator_of_pairs():
    req = Request("GET", BASE, params=((k, v) for k, v in [("a", "1"), ("b", None)]))
    assert req.url == BASE + "?a=1&b"


@pytest.mark.parametrize("params", [5, 1.5, object()], ids=["int", "float", "object"])
def test_params_wrong_type(params):
    with pytest.raises(TypeError):
        Request("GET", BASE, params=params)


# --- URL -----------------------------------------------------------------------------------


def test_url_empty_path_becomes_slash():
    assert Request("GET", "http://example.com").url == "http://example.com/"


def test_url_non_ascii_percent_encoded():
    req = Request("GET", "http://example.com/日本?q=語")
    assert req.url == "http://example.com/%E6%97%A5%E6%9C%AC?q=%E8%AA%9E"


def test_url_existing_escapes_kept():
    assert Request("GET", "http://example.com/a%20b?c=%2F").url == "http://example.com/a%20b?c=%2F"


def test_url_tab_cr_lf_stripped():
    assert Request("GET", "http://example.com/a\tb\r\nc").url == "http://example.com/abc"


def test_url_default_port_dropped():
    assert Request("GET", "http://example.com:80/x").url == "http://example.com/x"


@pytest.mark.parametrize("url", ["not a url", "http://", "://example.com", ""])
def test_url_invalid(url):
    with pytest.raises(ValueError, match=r"^Invalid URL"):
        Request("GET", url)


# --- method --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "TRACE", "CUSTOM", "get", "M-SEARCH"])
def test_method_preserved(method):
    assert Request(method, "http://example.com/").method == method


@pytest.mark.parametrize("method", ["BAD METHOD", "", "GET\r\n", "G\x00ET", "(GET)"])
def test_method_invalid(method):
    with pytest.raises(ValueError, match=r"^Invalid HTTP method"):
        Request(method, "http://example.com/")


def test_exports():
    for name in ("Request", "Response", "FullResponse", "Headers", "Client", "HTTPTransport"):
        assert name in pyqwest.__all__
