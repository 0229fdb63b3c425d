"""Atheris harness for the cookie jar's Set-Cookie parsing (pyqwest._cookies.CookieJar).

Each input is a request URL's scheme/host/path picked from its first bytes and Set-Cookie
lines (the rest, split at newlines, decoded as latin-1 as the HTTP parsers deliver header
values). Storing must never raise; what the jar then sends must be a well-formed Cookie
value (no CR, LF, NUL or other controls, never a ';' inside a name); no cookie outlives the
400-day cap; no cookie is set for a public suffix other than the host itself; parse_cookie_date
returns None or a finite timestamp. Any exception or AssertionError is a finding.

Run (from the repository root, with the project installed):

    python fuzz/fuzz_cookies.py -max_len=256 -runs=5000000
"""

from __future__ import annotations

import math
import sys

import atheris

with atheris.instrument_imports():
    from pyqwest._cookies import (
        MAX_AGE_CAP,
        CookieJar,
        _is_public_suffix,
        parse_cookie_date,
    )

NOW = 1_700_000_000.0
HOSTS = (
    "example.com", "www.example.co.uk", "a.b.github.io", "github.io", "localhost",
    "app.localhost", "127.0.0.1", "[::1]", "xn--bcher-kva.example", "intranet",
)
PATHS = ("/", "/a/b", "/a/b/", "", "/x?y=1", "/%2e/", "/a;b")
CONTROLS = {chr(c) for c in range(32) if c != 9} | {"\x7f"}


def TestOneInput(data: bytes) -> None:
    if len(data) < 2:
        return
    scheme = "https" if data[0] & 1 else "http"
    host = HOSTS[(data[0] >> 1) % len(HOSTS)]
    path = PATHS[data[1] % len(PATHS)]
    lines = data[2:].decode("latin-1").split("\n")
    jar = CookieJar(now=lambda: NOW)
    jar.store((scheme, host, path), lines)
    stamp = parse_cookie_date(lines[0])  # store() dates only Expires values: any text here
    assert stamp is None or math.isfinite(stamp), (lines[0], stamp)
    for bucket in jar._domains.values():
        for cookie in bucket.values():
            assert cookie.expires is None or cookie.expires <= NOW + MAX_AGE_CAP, cookie.expires
            if not cookie.host_only:
                assert not _is_public_suffix(cookie.domain), cookie.domain
    for target in (path or "/", "/"):
        header = jar.header_for((scheme, host, target))
        if header is None:
            continue
        assert not (set(header) & CONTROLS), repr(header)
        for pair in header.split("; "):
            name, eq, _ = pair.partition("=")
            assert eq and name and ";" not in name, repr(header)


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
