"""HTTP/2 header fields: the request's header list (RFC 9113 §8.2-8.3 rules) and the checks of
a response head or trailers (h2's own inbound validation is off: it costs more than all the
rest of a response)."""

from __future__ import annotations

import re

# Response head limits, as on HTTP/1.1 (spec §0).
MAX_HEADER_FIELDS = 100
MAX_HEAD_BYTES = 256 << 10

# Connection-specific headers HTTP/2 forbids (RFC 9113 §8.2.2); hyper strips them too.
_CONNECTION_HEADERS = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}
)


def request_headers(
    method: str,
    scheme: str,
    authority: str,
    path: str,
    pairs: list[tuple[str, str]] | None,
    is_json: bool,
    body_len: int,
    accept_encoding: str | None,
) -> list[tuple[str, str]]:
    """The HTTP/2 header list of a request. `pairs`: validated, lower-case (name, value) pairs.

    Connection-specific headers are dropped, `te` is kept only as "trailers", a `host` header
    becomes `:authority`. body_len < 0: no content-length is added.
    """
    out = [(":method", method), (":scheme", scheme), (":authority", authority), (":path", path)]
    has_accept = has_ae = has_ct = has_len = False
    if pairs:
        for pair in pairs:
            name = pair[0]
            if name in _CONNECTION_HEADERS:
                continue
            if name == "host":
                out[2] = (":authority", pair[1])
                continue
            if name == "te":
                if pair[1].strip().lower() != "trailers":
                    continue
            elif name == "accept":
                has_accept = True
            elif name == "accept-encoding":
                has_ae = True
            elif name == "content-type":
                has_ct = True
            elif name == "content-length":
                has_len = True
            out.append(pair)
    if not has_accept:
        out.append(("accept", "*/*"))
    if accept_encoding is not None and not has_ae:
        out.append(("accept-encoding", accept_encoding))
    if is_json and not has_ct:
        out.append(("content-type", "application/json"))
    if body_len >= 0 and not has_len:
        out.append(("content-length", str(body_len)))
    return out


class Malformed(Exception):
    """A response head or trailers that break RFC 9113 §8.2 (a stream error)."""


_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+").fullmatch
_BAD_VALUE = re.compile(rb"[\x00\r\n]").search
_FORBIDDEN_FIELDS = frozenset(name.encode() for name in _CONNECTION_HEADERS)


def response_fields(
    raw: list[tuple[bytes, bytes]], head: bool
) -> tuple[int, list[tuple[str, str]]]:
    """Status and (name, value) pairs of a response head (or trailers, `head` False), checked
    as RFC 9113 §8.2 wants."""
    status = -1
    pairs: list[tuple[str, str]] = []
    append = pairs.append
    size = 0
    for name, value in raw:
        if name[:1] == b":":
            if not head or pairs or name != b":status" or status >= 0:
                raise Malformed(f"unexpected pseudo-header field {name!r}")
            if len(value) != 3 or not value.isdigit() or value < b"100":
                raise Malformed(f"invalid :status {value!r}")
            status = int(value)
            continue
        if _TOKEN(name) is None or _BAD_VALUE(value) is not None or name in _FORBIDDEN_FIELDS:
            raise Malformed(f"invalid header field {name!r}")
        size += len(name) + len(value)
        append((name.decode("latin-1"), value.decode("latin-1")))
    if head and status < 0:
        raise Malformed("response without :status")
    if len(pairs) > MAX_HEADER_FIELDS:
        raise Malformed(f"more than {MAX_HEADER_FIELDS} header fields")
    if size > MAX_HEAD_BYTES:
        raise Malformed(f"response head larger than {MAX_HEAD_BYTES} bytes")
    return status, pairs

