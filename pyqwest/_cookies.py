"""The cookie jar of a transport (``enable_cookie_store=True``), after RFC 6265.

The transport calls :meth:`CookieJar.store` with every response's ``Set-Cookie`` values (those
of redirect responses too) and :meth:`CookieJar.header_for` before sending a request, adding
the result as ``Cookie`` when the request has none of its own (reqwest does the same).

A URL is given as ``(scheme, host, path)``: scheme lower-case (``"https"``), host as the WHATWG
parser gives it (lower-case, IDNA-encoded, IPv6 in brackets), path without the query.

Choices where RFC 6265 leaves room, taken from browsers, RFC 6265bis and reqwest's cookie_store:

- there is no public suffix list: a ``Domain`` without a dot (``com``, ``localhost``) only makes
  a host-only cookie when it *is* the request host, otherwise the cookie is ignored;
- a cookie from an IP address is always host-only;
- ``Secure`` cookies are set and sent only over a secure channel: ``https``/``wss``, or plain
  http to ``localhost`` / ``*.localhost`` / a loopback address (browsers and reqwest count those
  as secure); an insecure response cannot overwrite a ``Secure`` cookie (RFC 6265bis);
- ``__Secure-`` and ``__Host-`` name prefixes are enforced (RFC 6265bis);
- a set-cookie-string without ``=`` or with an empty name is ignored; name + value over 4096
  bytes is ignored; at most 180 cookies per domain and 3000 in all (the oldest go first).
"""

from __future__ import annotations

import calendar
import ipaddress
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Final, NamedTuple

__all__ = ["CookieJar", "CookieURL", "parse_cookie_date"]

MAX_NAME_VALUE: Final = 4096
MAX_PER_DOMAIN: Final = 180
MAX_COOKIES: Final = 3000


class CookieURL(NamedTuple):
    """The parts of a request URL the jar needs (a plain 3-tuple works as well)."""

    scheme: str
    host: str
    path: str


class _Cookie:
    __slots__ = (
        "domain",
        "expires",
        "host_only",
        "http_only",
        "name",
        "path",
        "secure",
        "seq",
        "value",
    )

    def __init__(
        self,
        name: str,
        value: str,
        domain: str,
        path: str,
        expires: float | None,
        secure: bool,
        http_only: bool,
        host_only: bool,
        seq: int,
    ) -> None:
        self.name = name
        self.value = value
        self.domain = domain
        self.path = path
        self.expires = expires  # None: a session cookie
        self.secure = secure
        self.http_only = http_only
        self.host_only = host_only
        self.seq = seq  # creation order (RFC 6265 creation-time, kept on replacement)


# --- RFC 6265 §5.1.1 dates -----------------------------------------------------------------------

_DELIMITERS = re.compile(r"[\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+")
_TIME = re.compile(r"([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[^0-9]|\Z)")
_DAY = re.compile(r"([0-9]{1,2})(?:[^0-9]|\Z)")
_YEAR = re.compile(r"([0-9]{2,4})(?:[^0-9]|\Z)")
_CTL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_MAX_AGE = re.compile(r"-?[0-9]+\Z")
_MONTHS: Final = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}


def parse_cookie_date(value: str) -> float | None:
    """A cookie-date (RFC 6265 §5.1.1, lenient) as a POSIX timestamp, or None if unparsable."""
    hms: tuple[int, int, int] | None = None
    day = month = year = None
    for token in _DELIMITERS.split(value):
        if not token:
            continue
        if hms is None and (m := _TIME.match(token)):
            hms = (int(m[1]), int(m[2]), int(m[3]))
        elif day is None and (m := _DAY.match(token)):
            day = int(m[1])
        elif month is None and token[:3].lower() in _MONTHS:
            month = _MONTHS[token[:3].lower()]
        elif year is None and (m := _YEAR.match(token)):
            year = int(m[1])
    if hms is None or day is None or month is None or year is None:
        return None
    if 70 <= year <= 99:
        year += 1900
    elif year <= 69:
        year += 2000
    hour, minute, second = hms
    if not 1 <= day <= 31 or year < 1601 or hour > 23 or minute > 59 or second > 59:
        return None
    if day > calendar.monthrange(year, month)[1]:
        return None  # no such date (Feb 30)
    return float(calendar.timegm((year, month, day, hour, minute, second)))


# --- helpers -------------------------------------------------------------------------------------


def _is_ip(host: str) -> bool:
    if host.startswith("["):
        return True
    if not host or not (host[-1].isdigit()):
        return False  # WHATWG hosts ending in a digit are IPv4 addresses (or invalid)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_secure_channel(scheme: str, host: str) -> bool:
    if scheme in ("https", "wss"):
        return True
    if host == "localhost" or host.endswith(".localhost"):
        return True
    if _is_ip(host):
        try:
            return ipaddress.ip_address(host.strip("[]")).is_loopback
        except ValueError:
            return False
    return False


def _domain_match(host: str, domain: str) -> bool:
    """RFC 6265 §5.1.3 (``host`` is a name, not an IP: callers check)."""
    return host == domain or (host.endswith(domain) and host[-len(domain) - 1] == ".")


def _path_match(request_path: str, cookie_path: str) -> bool:
    """RFC 6265 §5.1.4."""
    if request_path == cookie_path:
        return True
    return request_path.startswith(cookie_path) and (
        cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"
    )


def _default_path(path: str) -> str:
    """RFC 6265 §5.1.4 default-path of a request path."""
    if not path.startswith("/"):
        return "/"
    cut = path.rfind("/")
    return path[:cut] if cut > 0 else "/"


def _strip_query(path: str) -> str:
    if "?" in path:
        path = path.partition("?")[0]
    return path or "/"


_WSP = " \t"


class CookieJar:
    """Cookies of one transport; thread-safe.

    ``now`` (default ``time.time``) is the clock used for expiry; ``store``/``header_for``
    also take an explicit ``now=`` for tests.
    """

    __slots__ = ("_count", "_domains", "_lock", "_now", "_seq")

    def __init__(self, *, now: Callable[[], float] = time.time) -> None:
        self._now = now
        # domain -> {(path, name): cookie}
        self._domains: dict[str, dict[tuple[str, str], _Cookie]] = {}
        self._count = 0
        self._seq = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._count

    def clear(self) -> None:
        with self._lock:
            self._domains.clear()
            self._count = 0

    # --- sending ---------------------------------------------------------------------------------

    def header_for(self, url: tuple[str, str, str], *, now: float | None = None) -> str | None:
        """The ``Cookie`` header value for a request to ``url``, or None (RFC 6265 §5.4)."""
        if not self._domains:
            return None
        scheme, host, path = url
        host = host.lower()
        path = _strip_query(path)
        if now is None:
            now = self._now()
        secure = _is_secure_channel(scheme, host)
        found: list[_Cookie] = []
        with self._lock:
            domains = self._domains
            # the host itself, then each parent domain ("a.b.c" -> "b.c" -> "c")
            candidate = host
            exact = True
            while True:
                bucket = domains.get(candidate)
                if bucket:
                    expired: list[tuple[str, str]] = []
                    for key, cookie in bucket.items():
                        if cookie.expires is not None and cookie.expires <= now:
                            expired.append(key)
                            continue
                        if cookie.host_only and not exact:
                            continue
                        if cookie.secure and not secure:
                            continue
                        if _path_match(path, cookie.path):
                            found.append(cookie)
                    if expired:
                        for key in expired:
                            del bucket[key]
                        self._count -= len(expired)
                        if not bucket:
                            del domains[candidate]
                dot = candidate.find(".")
                if dot < 0 or (exact and _is_ip(host)):
                    break
                candidate = candidate[dot + 1 :]
                exact = False
        if not found:
            return None
        if len(found) > 1:
            # longer paths first, then earlier creation
            found.sort(key=lambda c: (-len(c.path), c.seq))
        return "; ".join([f"{c.name}={c.value}" for c in found])

    # --- receiving -------------------------------------------------------------------------------

    def store(
        self,
        url: tuple[str, str, str],
        set_cookie_values: Iterable[str],
        *,
        now: float | None = None,
    ) -> None:
        """Store the cookies of a response from ``url`` (RFC 6265 §5.2, §5.3)."""
        values = list(set_cookie_values)
        if not values:
            return
        if now is None:
            now = self._now()
        scheme, host, path = url
        host = host.lower()
        path = _strip_query(path)
        secure = _is_secure_channel(scheme, host)
        for value in values:
            self._store_one(value, host, path, secure, now)

    def _store_one(self, line: str, host: str, path: str, secure: bool, now: float) -> None:
        pair, _, attrs = line.partition(";")
        if "=" not in pair:
            return
        name, _, value = pair.partition("=")
        name = name.strip(_WSP)
        value = value.strip(_WSP)
        if not name or len(name) + len(value) > MAX_NAME_VALUE:
            return
        if _CTL.search(name) or _CTL.search(value):
            return  # RFC 6265bis: control characters make the cookie invalid

        expires: float | None = None
        max_age: float | None = None
        domain_attr: str | None = None
        path_attr: str | None = None
        is_secure = False
        http_only = False
        if attrs:
            for av in attrs.split(";"):
                key, _, val = av.partition("=")
                key = key.strip(_WSP).lower()
                val = val.strip(_WSP)
                if len(val) > 1024:
                    continue  # RFC 6265bis: oversized attribute values are ignored
                if key == "expires":
                    parsed = parse_cookie_date(val)
                    if parsed is not None:
                        expires = parsed
                elif key == "max-age":
                    if _MAX_AGE.match(val):  # otherwise the attribute is ignored
                        delta = int(val)
                        max_age = float("-inf") if delta <= 0 else now + delta
                elif key == "domain":
                    if val:
                        domain_attr = val.removeprefix(".").lower()
                    # empty value: the attribute is ignored (RFC 6265 §5.2.3)
                elif key == "path":
                    path_attr = val if val.startswith("/") else None
                elif key == "secure":
                    is_secure = True
                elif key == "httponly":
                    http_only = True
        if max_age is not None:  # Max-Age wins over Expires
            expires = max_age

        # Domain (RFC 6265 §5.3 steps 4-6)
        if domain_attr:
            if domain_attr == host and (_is_ip(host) or "." not in host):
                # an IP, or a single label (public-suffix-like): only ever host-only
                host_only = True
            elif _is_ip(host) or "." not in domain_attr or not _domain_match(host, domain_attr):
                return
            else:
                host_only = False
            domain = domain_attr
        else:
            host_only = True
            domain = host
        cookie_path = path_attr if path_attr is not None else _default_path(path)

        # Secure (RFC 6265bis): only set from a secure channel
        if is_secure and not secure:
            return
        lower = name.lower()
        if lower.startswith("__secure-") and not is_secure:
            return
        if lower.startswith("__host-") and (
            not is_secure or domain_attr is not None or cookie_path != "/"
        ):
            return

        ckey = (cookie_path, name)
        with self._lock:
            domains = self._domains
            if not secure and self._shadows_secure(name, domain, cookie_path):
                return  # an insecure response cannot replace a Secure cookie
            bucket = domains.get(domain)
            old = bucket.get(ckey) if bucket else None
            if expires is not None and expires <= now:
                # already expired: this deletes the cookie
                if old is not None and bucket is not None:
                    del bucket[ckey]
                    self._count -= 1
                    if not bucket:
                        del domains[domain]
                return
            if old is not None:
                seq = old.seq  # keep the old creation time
            else:
                seq = self._seq
                self._seq += 1
            cookie = _Cookie(
                name, value, domain, cookie_path, expires, is_secure, http_only, host_only, seq
            )
            if bucket is None:
                bucket = domains[domain] = {}
            bucket[ckey] = cookie
            if old is None:
                self._count += 1
                if len(bucket) > MAX_PER_DOMAIN:
                    self._evict(bucket, now)
                if self._count > MAX_COOKIES:
                    self._evict(None, now)

    def _shadows_secure(self, name: str, domain: str, path: str) -> bool:
        """RFC 6265bis §5.7 step 16: a Secure cookie of that name covers this one."""
        for bucket_domain, bucket in self._domains.items():
            if not (_domain_match(bucket_domain, domain) or _domain_match(domain, bucket_domain)):
                continue
            for cookie in bucket.values():
                if cookie.secure and cookie.name == name and _path_match(path, cookie.path):
                    return True
        return False

    def _evict(self, bucket: dict[tuple[str, str], _Cookie] | None, now: float) -> None:
        """Over a limit: drop expired cookies, then the oldest (of one domain, or of all)."""
        buckets = [bucket] if bucket is not None else list(self._domains.values())
        for b in buckets:
            for key in [k for k, c in b.items() if c.expires is not None and c.expires <= now]:
                del b[key]
                self._count -= 1
        limit = MAX_PER_DOMAIN if bucket is not None else MAX_COOKIES
        excess = (len(buckets[0]) if bucket is not None else self._count) - limit
        if excess > 0:
            by_age = sorted(
                ((c.seq, k, b) for b in buckets for k, c in b.items()), key=lambda item: item[0]
            )
            for _, key, b in by_age[:excess]:
                del b[key]
                self._count -= 1
        for domain in [d for d, b in self._domains.items() if not b]:
            del self._domains[domain]
