"""The cookie jar of a transport (``enable_cookie_store=True``), after RFC 6265.

The transport calls :meth:`CookieJar.store` with every response's ``Set-Cookie`` values (those
of redirect responses too) and :meth:`CookieJar.header_for` before sending a request, adding
the result as ``Cookie`` when the request has none of its own (reqwest does the same).

A URL is given as ``(scheme, host, path)``: scheme lower-case (``"https"``), host as the WHATWG
parser gives it (lower-case, IDNA-encoded, IPv6 in brackets), path without the query.

Choices where RFC 6265 leaves room, taken from browsers, RFC 6265bis and reqwest's cookie_store:

- a ``Domain`` that is a public suffix (``com``, ``co.uk``, ``github.io``: the Public Suffix
  List of the ``publicsuffixlist`` package, private domains included, unlisted top-level labels
  such as ``localhost`` count as suffixes) only makes a host-only cookie when it *is* the
  request host, otherwise the cookie is ignored, as browsers and curl do; a host that is itself
  a public suffix still gets host-only cookies (browsers allow them);
- a cookie from an IP address is always host-only;
- ``Max-Age`` and ``Expires`` are capped at 400 days from now (RFC 6265bis §5.5-5.6; RFC 6265
  §5.2.2 lets a jar cap at what it can represent), so no value can overflow;
- ``Secure`` cookies are set and sent only over a secure channel: ``https``/``wss``, or plain
  http to ``localhost`` / ``*.localhost`` / a loopback address (browsers and reqwest count those
  as secure); an insecure response cannot overwrite a ``Secure`` cookie (RFC 6265bis);
- ``__Secure-`` and ``__Host-`` name prefixes are enforced (RFC 6265bis);
- a set-cookie-string without ``=`` or with an empty name is ignored; name + value over 4096
  bytes is ignored; at most 180 cookies per domain and 3000 in all (the oldest go first). A
  domain over its limit drops its expired cookies first; a full jar sweeps every expired
  cookie at most once per 300 new cookies (else the oldest goes), so adding to a full jar
  costs O(1) amortised.
"""

from __future__ import annotations

import calendar
import functools
import ipaddress
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Final, NamedTuple

from publicsuffixlist import PublicSuffixList

__all__ = ["CookieJar", "CookieURL", "parse_cookie_date"]

MAX_NAME_VALUE: Final = 4096
MAX_PER_DOMAIN: Final = 180
MAX_COOKIES: Final = 3000
MAX_AGE_CAP: Final = 400 * 86400  # RFC 6265bis §5.5: 400 days
_SWEEP_EVERY: Final = MAX_COOKIES // 10  # new cookies between two full-jar expiry sweeps


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


@functools.cache
def _suffixes() -> PublicSuffixList:
    """The Public Suffix List, loaded (~0.1 s) when a first ``Domain`` attribute needs it."""
    return PublicSuffixList()


def _is_public_suffix(domain: str) -> bool:
    return "." not in domain or _suffixes().is_public(domain)


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

    __slots__ = ("_domains", "_lock", "_next_sweep", "_now", "_order", "_secure_names", "_seq")

    def __init__(self, *, now: Callable[[], float] = time.time) -> None:
        self._now = now
        # domain -> {(path, name): cookie}, each in creation order (a replacement keeps its place)
        self._domains: dict[str, dict[tuple[str, str], _Cookie]] = {}
        # every (domain, path, name) in creation order: the oldest cookie in O(1)
        self._order: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        # name -> how many Secure cookies have it: most stores need no Secure-shadowing scan
        self._secure_names: dict[str, int] = {}
        self._seq = 0
        self._next_sweep = 0  # the _seq from which a full jar sweeps expired cookies again
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._order)

    def clear(self) -> None:
        with self._lock:
            self._domains.clear()
            self._order.clear()
            self._secure_names.clear()

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
                    for key in expired:
                        self._remove(candidate, key)
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
                        expires = min(parsed, now + MAX_AGE_CAP)
                elif key == "max-age":
                    if _MAX_AGE.match(val):  # otherwise the attribute is ignored
                        # RFC 6265 §5.2.2, capped: hundreds of digits must not overflow
                        delta = int(val) if len(val) <= 12 else (-1 if val[0] == "-" else 1 << 40)
                        max_age = float("-inf") if delta <= 0 else now + min(delta, MAX_AGE_CAP)
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
            if domain_attr == host and (_is_ip(host) or _is_public_suffix(host)):
                # an IP, or a public suffix: only ever host-only
                host_only = True
            elif (_is_ip(host) or not _domain_match(host, domain_attr)
                  or _is_public_suffix(domain_attr)):
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
                if old is not None:
                    self._remove(domain, ckey)
                return
            if old is not None:
                seq = old.seq  # keep the old creation time (and the place in _order)
                if old.secure:
                    self._uncount_secure(name)
            else:
                seq = self._seq
                self._seq += 1
                self._order[(domain, *ckey)] = None
            cookie = _Cookie(
                name, value, domain, cookie_path, expires, is_secure, http_only, host_only, seq
            )
            if bucket is None:
                bucket = domains[domain] = {}
            bucket[ckey] = cookie
            if is_secure:
                self._secure_names[name] = self._secure_names.get(name, 0) + 1
            if old is None:
                if len(bucket) > MAX_PER_DOMAIN:
                    self._evict_from(domain, bucket, now)
                if len(self._order) > MAX_COOKIES:
                    self._evict_oldest(now)

    def _remove(self, domain: str, ckey: tuple[str, str]) -> None:
        bucket = self._domains[domain]
        cookie = bucket.pop(ckey)
        del self._order[(domain, *ckey)]
        if cookie.secure:
            self._uncount_secure(cookie.name)
        if not bucket:
            del self._domains[domain]

    def _uncount_secure(self, name: str) -> None:
        left = self._secure_names[name] - 1
        if left:
            self._secure_names[name] = left
        else:
            del self._secure_names[name]

    def _shadows_secure(self, name: str, domain: str, path: str) -> bool:
        """RFC 6265bis §5.7 step 16: a Secure cookie of that name covers this one."""
        if name not in self._secure_names:
            return False
        for bucket_domain, bucket in self._domains.items():
            if not (_domain_match(bucket_domain, domain) or _domain_match(domain, bucket_domain)):
                continue
            for cookie in bucket.values():
                if cookie.secure and cookie.name == name and _path_match(path, cookie.path):
                    return True
        return False

    def _evict_from(
        self, domain: str, bucket: dict[tuple[str, str], _Cookie], now: float
    ) -> None:
        """A domain over its limit: its expired cookies go, then its oldest."""
        for key in [k for k, c in bucket.items() if c.expires is not None and c.expires <= now]:
            self._remove(domain, key)
        while len(bucket) > MAX_PER_DOMAIN:
            self._remove(domain, next(iter(bucket)))

    def _evict_oldest(self, now: float) -> None:
        """The jar over its limit: expired cookies go (a sweep of the whole jar, at most once
        per _SWEEP_EVERY new cookies), then the oldest."""
        if self._seq >= self._next_sweep:
            self._next_sweep = self._seq + _SWEEP_EVERY
            for domain, bucket in list(self._domains.items()):
                for key, c in list(bucket.items()):
                    if c.expires is not None and c.expires <= now:
                        self._remove(domain, key)
        order = self._order
        while len(order) > MAX_COOKIES:
            domain, path, name = next(iter(order))
            self._remove(domain, (path, name))
