from collections.abc import AsyncIterator, Iterator

# A request body: bytes (None: none), or streamed.
_Body = bytes | AsyncIterator[bytes] | Iterator[bytes] | None
# The caller's validated header fields: {lower-case name: [values]}.
_Fields = dict[str, list[str]]
# A parsed URL (pyqwest._url.ParsedURL): href, scheme, host, port, authority, target, userinfo.
_URL = tuple[str, str, str, int, str, str, tuple[str, str] | None]

CONNECTION_FIELDS: frozenset[str]

def h1_head(
    method: str, url: _URL, fields: _Fields | None, body: _Body, is_json: bool,
    accept_encoding: str | None, proxy_pairs: list[tuple[str, str]] | None = None,
) -> tuple[bytes, int, bool, bool]:
    """(head bytes, declared body length (-1: none), chunked, close after) of an HTTP/1.1
    request; with `proxy_pairs`, forwarded to a proxy in absolute-form."""

def h2_headers(
    method: str, url: _URL, fields: _Fields | None, body: _Body, is_json: bool,
    accept_encoding: str | None,
) -> list[tuple[str, str]]:
    """The HTTP/2 (and HTTP/3) header list of a request, pseudo-header fields first."""

def connect_head(authority: str, proxy_pairs: list[tuple[str, str]]) -> bytes:
    """The CONNECT head asking a proxy for a tunnel to `authority` (host:port)."""
