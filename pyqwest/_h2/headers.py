"""HTTP/2 response header fields: the checks of a response head or trailers (RFC 9113 §8.2;
h2's own inbound validation is off: it costs more than all the rest of a response). The
request's header list comes from the request-head policy, cpqwest/_reqhead.pyx."""

from __future__ import annotations

import re

from cpqwest._reqhead import CONNECTION_FIELDS

# Response head limits, as on HTTP/1.1 (spec §0).
MAX_HEADER_FIELDS = 100
MAX_HEAD_BYTES = 256 << 10


class Malformed(Exception):
    """A response head or trailers that break RFC 9113 §8.2 (a stream error)."""


_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+").fullmatch
_BAD_VALUE = re.compile(rb"[\x00\r\n]").search
_FORBIDDEN_FIELDS = frozenset(name.encode() for name in CONNECTION_FIELDS)


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

