"""Atheris harness for redirect resolution (pyqwest._redirects.next_request) of a server's
``Location`` value, and what the transport then sends (pyqwest._url.parse_url).

Each input: a flags byte (status, method, base URL) and a Location value (raw bytes decoded
as latin-1, as the HTTP parsers deliver header values). next_request must return None or a
redirect to an absolute http(s) URL that parse_url accepts, whose request target and Host
carry no whitespace, control or non-ASCII character (nothing the server sends can split the
next request's head); the method and body rules hold. Any exception or AssertionError is a
finding.

Run (from the repository root, with the project installed):

    python fuzz/fuzz_location.py -max_len=1024 -runs=5000000
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from pyqwest._redirects import REDIRECT_STATUSES, next_request
    from pyqwest._url import parse_url

STATUSES = (301, 302, 303, 307, 308, 300, 200)
METHODS = ("GET", "HEAD", "POST", "PUT")
BASES = (
    "http://example.com/a/b?q=1",
    "https://user:pw@example.com:8443/dir/",
    "http://127.0.0.1:8080/",
    "https://[::1]/x",
    "http://xn--bcher-kva.example/%C3%A9",
)
SAFE = frozenset(chr(c) for c in range(0x21, 0x7F))


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    flags = data[0]
    status = STATUSES[flags % len(STATUSES)]
    method = METHODS[(flags >> 3) % len(METHODS)]
    base = BASES[(flags >> 5) % len(BASES)]
    location = data[1:].decode("latin-1")
    nxt = next_request(method, base, status, location, body_replayable=bool(flags & 4))
    if nxt is None:
        return
    assert status in REDIRECT_STATUSES
    assert nxt.url.startswith(("http://", "https://")), nxt.url
    parsed = parse_url(nxt.url)
    for text in (parsed.target, parsed.authority):
        assert text and set(text) <= SAFE, repr(text)
    if status in (307, 308):
        assert nxt.method == method and nxt.keep_body and flags & 4
    else:
        assert nxt.method == (method if method in ("GET", "HEAD") else "GET")
        assert not nxt.keep_body


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
