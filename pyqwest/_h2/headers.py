"""HTTP/2 request header lists (RFC 9113 §8.2-8.3 rules) and the response head limits (the
core, `cpqwest._h2core`, checks response heads and trailers against them)."""

from __future__ import annotations

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
