"""Unit tests of pyqwest._cookies: the transport's RFC 6265 cookie jar."""

from __future__ import annotations

import calendar

import pytest

from pyqwest._cookies import (
    MAX_COOKIES,
    MAX_NAME_VALUE,
    MAX_PER_DOMAIN,
    CookieJar,
    CookieURL,
    parse_cookie_date,
)

NOW = 1_700_000_000.0


def url(spec: str) -> CookieURL:
    """``scheme://host[:port]/path`` -> the (scheme, hostname, path) the transport passes."""
    scheme, _, rest = spec.partition("://")
    host, slash, path = rest.partition("/")
    host = host[: host.index("]") + 1] if host.startswith("[") else host.partition(":")[0]
    return CookieURL(scheme, host, slash + path)


def jar_with(origin: str, *lines: str, now: float = NOW) -> CookieJar:
    jar = CookieJar(now=lambda: now)
    jar.store(url(origin), list(lines))
    return jar


def sent(jar: CookieJar, target: str, now: float = NOW) -> str | None:
    return jar.header_for(url(target), now=now)


# --- basics --------------------------------------------------------------------------------------


def test_empty_jar() -> None:
    jar = CookieJar()
    assert len(jar) == 0
    assert jar.header_for(("https", "example.com", "/")) is None
    jar.store(("https", "example.com", "/"), [])
    assert jar.header_for(("https", "example.com", "/")) is None


def test_store_and_send() -> None:
    jar = jar_with("http://localhost/echo", "testcookie=hello")
    assert len(jar) == 1
    assert sent(jar, "http://localhost/echo") == "testcookie=hello"
    assert sent(jar, "http://localhost/other") == "testcookie=hello"
    assert jar.header_for(("http", "localhost", "/")) == "testcookie=hello"  # plain tuples
    jar.clear()
    assert len(jar) == 0
    assert sent(jar, "http://localhost/") is None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("a=b", "a=b"),
        ("  a  =  b  ; Path=/", "a=b"),
        ("a=", "a="),
        ("a=b=c", "a=b=c"),
        ('a="quoted value"', 'a="quoted value"'),
        ("a=b;", "a=b"),
        ("a=b; unknown=attr; Flag", "a=b"),
        ("a=b\tc", "a=b\tc"),
        ("a=ü", "a=ü"),
        ("noequals", None),
        ("=value", None),
        ("  =value", None),
        ("", None),
        ("a=b\x00c", None),
        ("a=b\x7fc", None),
        ("a\nb=c", None),
        ("n=" + "v" * (MAX_NAME_VALUE - 1), "n=" + "v" * (MAX_NAME_VALUE - 1)),
        ("n=" + "v" * MAX_NAME_VALUE, None),
    ],
)
def test_parse_name_value(line: str, expected: str | None) -> None:
    assert sent(jar_with("https://example.com/", line), "https://example.com/") == expected


def test_several_values_and_attribute_case() -> None:
    jar = jar_with(
        "https://example.com/",
        "a=1; PATH=/; SECURE; HTTPONLY; MAX-AGE=10; DOMAIN=EXAMPLE.COM",
        "b=2",
    )
    assert sent(jar, "https://www.example.com/x") == "a=1"
    assert sent(jar, "https://example.com/x") == "a=1; b=2"


# --- Domain --------------------------------------------------------------------------------------


def test_host_only_cookie() -> None:
    jar = jar_with("https://example.com/", "a=1")
    assert sent(jar, "https://example.com/") == "a=1"
    assert sent(jar, "https://www.example.com/") is None
    assert sent(jar, "https://other.com/") is None


@pytest.mark.parametrize("domain", ["example.com", ".example.com", "EXAMPLE.com", "..example.com"])
def test_domain_cookie(domain: str) -> None:
    jar = jar_with("https://www.example.com/", f"a=1; Domain={domain}")
    if domain == "..example.com":  # only one leading dot is removed: ".example.com" never matches
        assert len(jar) == 0
        return
    assert sent(jar, "https://example.com/") == "a=1"
    assert sent(jar, "https://www.example.com/") == "a=1"
    assert sent(jar, "https://a.b.example.com/") == "a=1"
    assert sent(jar, "https://notexample.com/") is None
    assert sent(jar, "https://example.org/") is None


def test_domain_equal_to_the_host_is_a_domain_cookie() -> None:
    jar = jar_with("https://example.com/", "a=1; Domain=example.com")
    assert sent(jar, "https://sub.example.com/") == "a=1"


@pytest.mark.parametrize(
    ("origin", "domain"),
    [
        ("https://www.example.com/", "other.com"),
        ("https://www.example.com/", "ww.example.com"),
        ("https://www.example.com/", "sub.www.example.com"),
        ("https://example.com/", "ample.com"),
        ("https://www.example.com/", "com"),  # public-suffix-like single label
        ("https://www.example.com/", ".com"),
        ("https://localhost/", "host"),
        ("http://127.0.0.1/", "0.0.1"),
        ("http://127.0.0.1/", "1"),
        ("http://10.0.0.1/", "10.0.0.2"),
    ],
)
def test_domain_that_does_not_match_is_rejected(origin: str, domain: str) -> None:
    assert len(jar_with(origin, f"a=1; Domain={domain}")) == 0


@pytest.mark.parametrize(
    ("origin", "domain"),
    [
        ("https://www.example.co.uk/", "co.uk"),  # ICANN section of the Public Suffix List
        ("https://www.example.co.uk/", ".co.uk"),
        ("https://attacker.github.io/", "github.io"),  # private section: browsers use it too
        ("https://a.b.s3.amazonaws.com/", "s3.amazonaws.com"),
        ("https://www.example.xn--p1ai/", "xn--p1ai"),  # IDNA top-level domain (.рф)
    ],
)
def test_public_suffix_domain_is_rejected(origin: str, domain: str) -> None:
    """A site cannot set cookies for every site under a public suffix (curl, browsers)."""
    assert len(jar_with(origin, f"a=1; Domain={domain}")) == 0


def test_domain_below_a_public_suffix_is_accepted() -> None:
    jar = jar_with("https://www.example.co.uk/", "a=1; Domain=example.co.uk")
    assert sent(jar, "https://shop.example.co.uk/") == "a=1"
    assert sent(jar, "https://other.co.uk/") is None
    jar = jar_with("https://me.github.io/", "b=2; Domain=me.github.io")
    assert sent(jar, "https://x.me.github.io/") == "b=2"
    assert sent(jar, "https://you.github.io/") is None


@pytest.mark.parametrize("host", ["github.io", "co.uk"])
def test_host_that_is_a_public_suffix_gets_host_only_cookies(host: str) -> None:
    """As browsers do: no Domain (or Domain equal to the host) is a host-only cookie there."""
    jar = jar_with(f"https://{host}/", "a=1", f"b=2; Domain={host}")
    assert sent(jar, f"https://{host}/") == "a=1; b=2"
    assert sent(jar, f"https://www.{host}/") is None


def test_single_label_domain_equal_to_host_is_host_only() -> None:
    jar = jar_with("http://localhost/", "a=1; Domain=localhost")
    assert sent(jar, "http://localhost/") == "a=1"
    jar = jar_with("https://intranet/", "a=1; Domain=intranet")
    assert sent(jar, "https://intranet/") == "a=1"
    assert sent(jar, "https://x.intranet/") is None


def test_empty_domain_attribute_is_ignored() -> None:
    jar = jar_with("https://www.example.com/", "a=1; Domain=", "b=2; Domain=example.com; Domain=")
    assert sent(jar, "https://www.example.com/") == "a=1; b=2"
    assert sent(jar, "https://example.com/") == "b=2"


@pytest.mark.parametrize(
    ("origin", "other"),
    [("http://127.0.0.1/", "http://0.0.1/"), ("http://[::1]:8080/", "http://[::2]/")],
)
def test_ip_hosts_are_host_only(origin: str, other: str) -> None:
    host = url(origin).host
    jar = jar_with(origin, "a=1", f"b=2; Domain={host}")
    assert sent(jar, origin) == "a=1; b=2"
    assert sent(jar, other) is None


# --- Path ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_path", "default"),
    [
        ("/", "/"),
        ("", "/"),
        ("/a", "/"),
        ("/a/", "/a"),
        ("/a/b", "/a"),
        ("/a/b/c?x=/y/z", "/a/b"),
        ("/a/b/", "/a/b"),
    ],
)
def test_default_path(request_path: str, default: str) -> None:
    jar = jar_with("https://example.com" + request_path, "a=1")
    assert sent(jar, "https://example.com" + default) == "a=1"
    assert sent(jar, "https://example.com" + default + "/deeper") == "a=1"
    if default != "/":
        assert sent(jar, "https://example.com/") is None
        assert sent(jar, "https://example.com" + default + "x") is None


@pytest.mark.parametrize(
    ("cookie_path", "request_path", "match"),
    [
        ("/", "/", True),
        ("/", "/anything/deep", True),
        ("/a", "/a", True),
        ("/a", "/a/", True),
        ("/a", "/a/b", True),
        ("/a", "/ab", False),
        ("/a", "/", False),
        ("/a/", "/a/b", True),
        ("/a/", "/a", False),
        ("/a/b", "/a/b?q=1", True),
        ("/A", "/a", False),
    ],
)
def test_path_match(cookie_path: str, request_path: str, match: bool) -> None:
    jar = jar_with("https://example.com/", f"a=1; Path={cookie_path}")
    assert (sent(jar, "https://example.com" + request_path) == "a=1") is match


@pytest.mark.parametrize("attr", ["Path=", "Path=relative", "Path=a/b"])
def test_invalid_path_attribute_uses_the_default(attr: str) -> None:
    jar = jar_with("https://example.com/dir/page", f"a=1; {attr}")
    assert sent(jar, "https://example.com/dir/x") == "a=1"
    assert sent(jar, "https://example.com/") is None


def test_last_attribute_wins() -> None:
    jar = jar_with("https://example.com/", "a=1; Path=/x; Path=/y")
    assert sent(jar, "https://example.com/y") == "a=1"
    assert sent(jar, "https://example.com/x") is None


# --- Secure / HttpOnly / prefixes ----------------------------------------------------------------


def test_secure_cookie_only_over_https() -> None:
    jar = jar_with("https://example.com/", "s=1; Secure", "p=2")
    assert sent(jar, "https://example.com/") == "s=1; p=2"
    assert sent(jar, "http://example.com/") == "p=2"
    assert sent(jar, "wss://example.com/") == "s=1; p=2"


def test_secure_cookie_cannot_be_set_from_http() -> None:
    assert len(jar_with("http://example.com/", "s=1; Secure")) == 0


@pytest.mark.parametrize("host", ["localhost", "app.localhost", "127.0.0.1", "127.1.2.3", "[::1]"])
def test_loopback_http_counts_as_secure(host: str) -> None:
    jar = jar_with(f"http://{host}/", "s=1; Secure")
    assert sent(jar, f"http://{host}/") == "s=1"


def test_http_cannot_overwrite_or_delete_a_secure_cookie() -> None:
    jar = jar_with("https://example.com/", "sid=secret; Secure; Path=/")
    jar.store(url("http://example.com/"), ["sid=evil", "sid=gone; Max-Age=0"], now=NOW)
    jar.store(url("http://www.example.com/"), ["sid=evil; Domain=example.com"], now=NOW)
    assert sent(jar, "https://example.com/") == "sid=secret"
    # other names are fine, and https may replace it
    jar.store(url("http://example.com/"), ["other=1"], now=NOW)
    jar.store(url("https://example.com/"), ["sid=new; Secure"], now=NOW)
    assert sent(jar, "https://example.com/") == "sid=new; other=1"


def test_http_only_is_stored_and_sent() -> None:
    jar = jar_with("http://example.com/", "h=1; HttpOnly")
    assert sent(jar, "http://example.com/") == "h=1"


@pytest.mark.parametrize(
    ("origin", "line", "stored"),
    [
        ("https://example.com/", "__Secure-a=1; Secure", True),
        ("https://example.com/", "__Secure-a=1", False),
        ("https://example.com/", "__secure-a=1", False),
        ("http://example.com/", "__Secure-a=1; Secure", False),
        ("https://example.com/", "__Host-a=1; Secure; Path=/", True),
        ("https://example.com/x/y", "__Host-a=1; Secure", False),  # default path /x
        ("https://example.com/", "__Host-a=1; Secure; Path=/; Domain=example.com", False),
        ("https://example.com/", "__Host-a=1; Path=/", False),
        ("https://example.com/", "__HOST-a=1; Path=/", False),
    ],
)
def test_name_prefixes(origin: str, line: str, stored: bool) -> None:
    assert (len(jar_with(origin, line)) == 1) is stored


# --- Expires / Max-Age ---------------------------------------------------------------------------


def test_session_and_persistent_cookies_expire() -> None:
    jar = jar_with(
        "https://example.com/",
        "session=1",
        "short=2; Max-Age=10",
        "dated=3; Expires=Wed, 15 Nov 2023 00:00:00 GMT",  # NOW is 2023-11-14T22:13:20Z
    )
    assert sent(jar, "https://example.com/") == "session=1; short=2; dated=3"
    assert sent(jar, "https://example.com/", now=NOW + 9) == "session=1; short=2; dated=3"
    assert sent(jar, "https://example.com/", now=NOW + 10) == "session=1; dated=3"
    assert sent(jar, "https://example.com/", now=NOW + 10_000) == "session=1"
    assert len(jar) == 1  # expired cookies are evicted when met


def test_injected_clock() -> None:
    clock = [NOW]
    jar = CookieJar(now=lambda: clock[0])
    jar.store(url("https://example.com/"), ["a=1; Max-Age=5"])
    assert jar.header_for(url("https://example.com/")) == "a=1"
    clock[0] += 5
    assert jar.header_for(url("https://example.com/")) is None


def test_max_age_wins_over_expires() -> None:
    jar = jar_with(
        "https://example.com/",
        "a=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=100",
        "b=2; Max-Age=100; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        "c=3; Max-Age=0; Expires=Fri, 01 Jan 2100 00:00:00 GMT",
    )
    assert sent(jar, "https://example.com/") == "a=1; b=2"


@pytest.mark.parametrize(
    "attr", ["Max-Age=0", "Max-Age=-1", "Max-Age=-100", "Expires=Thu, 01 Jan 1970 00:00:00 GMT"]
)
def test_expired_cookie_deletes(attr: str) -> None:
    jar = jar_with("https://example.com/", "a=1", "b=2")
    jar.store(url("https://example.com/"), [f"a=x; {attr}"], now=NOW)
    assert sent(jar, "https://example.com/") == "b=2"
    assert len(jar) == 1


@pytest.mark.parametrize(
    "attr", ["Max-Age=abc", "Max-Age=1.5", "Max-Age=+5", "Max-Age=", "Max-Age=- 5", "Max-Age=١"]
)
def test_invalid_max_age_is_ignored(attr: str) -> None:
    jar = jar_with("https://example.com/", f"a=1; {attr}")
    assert sent(jar, "https://example.com/", now=NOW + 10**9) == "a=1"  # a session cookie


DAY = 86400


@pytest.mark.parametrize("digits", [23, 400, 1024])
def test_huge_max_age_is_capped_at_400_days(digits: int) -> None:
    """RFC 6265 §5.2.2 lets a jar cap what it cannot represent; RFC 6265bis and browsers cap
    at 400 days. Hundreds of digits must not overflow (they raised OverflowError)."""
    jar = jar_with("https://example.com/", "a=1; Max-Age=" + "9" * digits)
    assert sent(jar, "https://example.com/", now=NOW + 399 * DAY) == "a=1"
    assert sent(jar, "https://example.com/", now=NOW + 401 * DAY) is None


def test_huge_negative_max_age_deletes() -> None:
    jar = jar_with("https://example.com/", "a=1")
    jar.store(url("https://example.com/"), ["a=1; Max-Age=-" + "9" * 500], now=NOW)
    assert len(jar) == 0


def test_far_expires_is_capped_at_400_days() -> None:
    jar = jar_with("https://example.com/", "a=1; Expires=Fri, 31 Dec 9999 23:59:59 GMT")
    assert sent(jar, "https://example.com/", now=NOW + 399 * DAY) == "a=1"
    assert sent(jar, "https://example.com/", now=NOW + 401 * DAY) is None


def test_invalid_expires_is_ignored() -> None:
    jar = jar_with("https://example.com/", "a=1; Expires=yesterday")
    assert sent(jar, "https://example.com/", now=NOW + 10**9) == "a=1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sun, 06 Nov 1994 08:49:37 GMT", (1994, 11, 6, 8, 49, 37)),  # RFC 1123
        ("Sunday, 06-Nov-94 08:49:37 GMT", (1994, 11, 6, 8, 49, 37)),  # RFC 850
        ("Sun Nov  6 08:49:37 1994", (1994, 11, 6, 8, 49, 37)),  # asctime
        ("06 Nov 1994 08:49:37", (1994, 11, 6, 8, 49, 37)),
        ("Thu, 01-Jan-1970 00:00:01 GMT", (1970, 1, 1, 0, 0, 1)),
        ("1 JANUARY 2030 1:2:3", (2030, 1, 1, 1, 2, 3)),
        ("Wed, 09 Jun 2021 10:18:14 +0000", (2021, 6, 9, 10, 18, 14)),
        ("09 Jun 69 10:18:14", (2069, 6, 9, 10, 18, 14)),
        ("09 Jun 70 10:18:14", (1970, 6, 9, 10, 18, 14)),
        ("09 Jun 0 10:18:14", None),  # one-digit year is not a year
        ("09 Jun 00 10:18:14", (2000, 6, 9, 10, 18, 14)),
        ("29 Feb 2024 00:00:00", (2024, 2, 29, 0, 0, 0)),
        ("Fri, 31 Dec 9999 23:59:59 GMT", (9999, 12, 31, 23, 59, 59)),
        ("garbage;;; 01 Jan 2030 ,, 00:00:00 more-garbage", (2030, 1, 1, 0, 0, 0)),
        ("29 Feb 2023 00:00:00", None),
        ("31 Apr 2024 00:00:00", None),
        ("32 Jan 2024 00:00:00", None),
        ("0 Jan 2024 00:00:00", None),
        ("01 Jan 1600 00:00:00", None),
        ("01 Jan 2024 24:00:00", None),
        ("01 Jan 2024 23:60:00", None),
        ("01 Jan 2024 23:00:60", None),
        ("01 Jan 2024", None),
        ("Jan 2024 00:00:00", None),
        ("01 2024 00:00:00", None),
        ("", None),
        ("tomorrow", None),
    ],
)
def test_parse_cookie_date(text: str, expected: tuple[int, ...] | None) -> None:
    result = parse_cookie_date(text)
    if expected is None:
        assert result is None
    else:
        assert result == calendar.timegm((*expected,))


# --- replacement and order -----------------------------------------------------------------------


def test_same_name_domain_path_replaces() -> None:
    jar = jar_with("https://example.com/", "a=1", "b=2")
    jar.store(url("https://example.com/"), ["a=3"], now=NOW + 1)
    assert len(jar) == 2
    assert sent(jar, "https://example.com/") == "a=3; b=2"  # keeps its creation time


def test_different_path_or_domain_is_another_cookie() -> None:
    jar = jar_with("https://www.example.com/", "a=1", "a=2; Path=/x", "a=3; Domain=example.com")
    assert len(jar) == 3
    assert sent(jar, "https://www.example.com/x") == "a=2; a=1; a=3"
    assert sent(jar, "https://example.com/x") == "a=3"


def test_order_longer_paths_first_then_creation() -> None:
    jar = CookieJar()
    jar.store(url("https://example.com/"), ["z=1; Path=/"], now=NOW)
    jar.store(url("https://example.com/"), ["y=2; Path=/a/b"], now=NOW)
    jar.store(url("https://example.com/"), ["x=3; Path=/a"], now=NOW)
    jar.store(url("https://example.com/"), ["w=4; Path=/a/b"], now=NOW)
    jar.store(url("https://example.com/"), ["v=5; Domain=example.com"], now=NOW)
    assert sent(jar, "https://example.com/a/b/c") == "y=2; w=4; x=3; z=1; v=5"


# --- limits --------------------------------------------------------------------------------------


def test_per_domain_limit_evicts_the_oldest() -> None:
    jar = CookieJar()
    jar.store(url("https://example.com/"), [f"c{i}=v" for i in range(MAX_PER_DOMAIN + 5)], now=NOW)
    assert len(jar) == MAX_PER_DOMAIN
    header = sent(jar, "https://example.com/")
    assert header is not None
    names = [part.split("=")[0] for part in header.split("; ")]
    assert names == [f"c{i}" for i in range(5, MAX_PER_DOMAIN + 5)]


def test_total_limit() -> None:
    jar = CookieJar()
    per = 100
    for d in range(MAX_COOKIES // per + 2):
        jar.store(url(f"https://d{d}.example/"), [f"c{i}=v" for i in range(per)], now=NOW)
    assert len(jar) == MAX_COOKIES
    assert sent(jar, "https://d0.example/") is None  # the oldest went first
    assert sent(jar, f"https://d{MAX_COOKIES // per + 1}.example/") is not None


def test_full_jar_evicts_one_oldest_per_new_cookie() -> None:
    """Each new cookie in a full jar pushes out exactly the oldest (the O(1) path: creation
    order is kept, not sorted per cookie)."""
    jar = CookieJar()
    for d in range(MAX_COOKIES // 100):
        jar.store(url(f"https://d{d}.example/"), [f"c{i}=v" for i in range(100)], now=NOW)
    for i in range(2 * MAX_COOKIES):
        jar.store(url(f"https://n{i}.example/"), ["x=v"], now=NOW)
        assert len(jar) == MAX_COOKIES
    # the newest MAX_COOKIES survive, in order
    assert sent(jar, f"https://n{MAX_COOKIES - 1}.example/") is None
    assert sent(jar, f"https://n{MAX_COOKIES}.example/") == "x=v"
    assert sent(jar, f"https://n{2 * MAX_COOKIES - 1}.example/") == "x=v"


def test_full_jar_sweeps_expired_cookies_before_the_oldest() -> None:
    jar = CookieJar()
    jar.store(url("https://keep.example/"), ["old=1"], now=NOW)
    jar.store(url("https://short.example/"), ["gone=1; Max-Age=1"], now=NOW)
    for i in range(MAX_COOKIES - 2):
        jar.store(url(f"https://d{i}.example/"), ["x=v"], now=NOW)
    jar.store(url("https://new.example/"), ["n=1"], now=NOW + 5)
    assert len(jar) == MAX_COOKIES
    assert sent(jar, "https://keep.example/", now=NOW + 5) == "old=1"  # the expired one went


def test_limits_drop_expired_cookies_first() -> None:
    jar = CookieJar()
    jar.store(url("https://example.com/"), ["old=1; Max-Age=1"], now=NOW)
    jar.store(url("https://example.com/"), [f"c{i}=v" for i in range(MAX_PER_DOMAIN)], now=NOW + 5)
    assert len(jar) == MAX_PER_DOMAIN
    header = sent(jar, "https://example.com/", now=NOW + 5)
    assert header is not None
    assert header.startswith("c0=v; ")
