"""Property tests for the compiled response parser (cpqwest._parser.ResponseParser).

- Any split of a valid response parses to the same result, and that result is the message
  that was generated (status, headers, body, trailers, keep-alive).
- Arbitrary bytes, in any split, never raise anything but RemoteProtocolError, and give the
  same outcome (result or error message) whatever the split.

The long-running, coverage-guided version of the second property is fuzz/fuzz_parser.py.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpqwest._errors import RemoteProtocolError
from cpqwest._parser import ResponseParser

SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# framing fields are chosen by the strategy, never generated as extra headers
RESERVED = {"content-length", "transfer-encoding", "connection", "trailer"}

names = st.text(TOKEN_CHARS, min_size=1, max_size=20).filter(lambda n: n.lower() not in RESERVED)
# field values: visible ASCII and latin-1, inner spaces/tabs, no leading/trailing whitespace
values = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=30,
).flatmap(
    lambda v: st.lists(st.sampled_from([" ", "\t", "  "]), max_size=2).map(
        lambda seps: v[: len(v) // 2] + "".join(seps) + v[len(v) // 2 :] if v else v
    )
).map(lambda v: v.strip(" \t"))
fields = st.lists(st.tuples(names, values), max_size=12)


@st.composite
def responses(draw: Any) -> tuple[bytes, dict[str, Any]]:
    """A valid response and what parsing it must give."""
    framing = draw(st.sampled_from(["length", "chunked", "close", "none"]))
    status = draw(
        st.sampled_from([204, 304]) if framing == "none" else st.integers(200, 599).filter(
            lambda s: s not in (204, 304)
        )
    )
    reason = draw(st.text(TOKEN_CHARS + " ", max_size=12)).strip()
    headers = draw(fields)
    body = draw(st.binary(max_size=300))
    head = [f"HTTP/1.1 {status} {reason}".encode()]
    for name, value in headers:
        head.append(f"{name}: {value}".encode("latin-1"))
    headers = list(headers)
    trailers: list[tuple[str, str]] = []
    keep_alive = True
    if framing == "length":
        head.append(b"Content-Length: %d" % len(body))
        headers.append(("content-length", str(len(body))))
        payload = body
    elif framing == "chunked":
        head.append(b"Transfer-Encoding: chunked")
        headers.append(("transfer-encoding", "chunked"))
        sizes = draw(st.lists(st.integers(1, 64), max_size=10))
        payload = b""
        rest = body
        for size in sizes:
            piece, rest = rest[:size], rest[size:]
            if piece:
                ext = draw(st.sampled_from([b"", b";a=b", b";x"]))
                payload += b"%x%s\r\n%s\r\n" % (len(piece), ext, piece)
        if rest:
            payload += b"%X\r\n%s\r\n" % (len(rest), rest)
        trailers = draw(st.lists(st.tuples(names, values), max_size=3))
        payload += b"0\r\n" + b"".join(
            f"{n}: {v}\r\n".encode("latin-1") for n, v in trailers
        ) + b"\r\n"
    elif framing == "close":
        head.append(b"Connection: close")
        headers.append(("connection", "close"))
        payload = body
        keep_alive = False
    else:
        payload = b""
        body = b""
    informational = draw(st.lists(st.sampled_from([100, 102, 103]), max_size=2))
    pre = b"".join(b"HTTP/1.1 %d Info\r\nx-info: 1\r\n\r\n" % s for s in informational)
    data = pre + b"\r\n".join(head) + b"\r\n\r\n" + payload
    expected = {
        "status": status,
        "reason": reason.encode(),
        "headers": [(n.lower(), v) for n, v in headers],
        "body": body,
        "trailers": [(n.lower(), v) for n, v in trailers] or None,
        "keep_alive": keep_alive,
        "needs_eof": framing == "close",
    }
    return data, expected


def parse(data: bytes, cuts: list[int], *, eof: bool = True, head_request: bool = False) -> Any:
    p = ResponseParser()
    p.reset(head_request)
    done = False
    start = 0
    try:
        for cut in [*sorted(cuts), len(data)]:
            if p.feed_data(data[start:cut]):
                done = True
            start = cut
        if not done and eof:
            done = p.feed_eof_py()
    except RemoteProtocolError as exc:
        return ("error", str(exc))
    return (done, p.status, p.reason, p.headers, p.trailers, p.take_body(),
            p.keep_alive if done else None, p.trailing_data)


cut_lists = st.lists(st.integers(0, 10_000), max_size=12)


@SETTINGS
@given(responses(), cut_lists)
def test_any_split_of_a_valid_response_gives_the_same_parse(resp, raw_cuts):
    data, expected = resp
    cuts = [c % (len(data) + 1) for c in raw_cuts]
    whole = parse(data, [])
    assert parse(data, cuts) == whole
    done, status, reason, headers, trailers, body, keep_alive, trailing = whole
    assert done
    assert status == expected["status"]
    assert reason == expected["reason"]
    assert headers == expected["headers"]
    assert trailers == expected["trailers"]
    assert body == expected["body"]
    assert keep_alive == expected["keep_alive"]
    assert not trailing


@SETTINGS
@given(responses())
def test_byte_by_byte_equals_whole(resp):
    data, _ = resp
    assert parse(data, list(range(1, len(data)))) == parse(data, [])


@SETTINGS
@given(responses(), st.integers(0, 10_000))
def test_truncated_valid_response_is_incomplete_or_protocol_error(resp, cut):
    """A valid message cut short and closed (FIN) is never taken as complete unless its
    framing is close-delimited (or the cut falls after its end)."""
    data, expected = resp
    cut %= len(data)
    result = parse(data[:cut], [])
    if result[0] == "error":
        assert "closed before" in result[1]
    else:
        assert result[0] in (True, False)
        if result[0]:
            assert expected["needs_eof"] or result[1] < 200 or cut == len(data)


@SETTINGS
@given(st.binary(max_size=600), cut_lists, st.booleans(), st.booleans())
def test_arbitrary_bytes_only_raise_remote_protocol_error(data, raw_cuts, eof, head_request):
    cuts = [c % (len(data) + 1) for c in raw_cuts]
    whole = parse(data, [], eof=eof, head_request=head_request)
    assert parse(data, cuts, eof=eof, head_request=head_request) == whole


PREFIXES = [
    b"HTTP/1.1 200 OK\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
    b"HTTP/1.0 200 OK\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\n",
]


@SETTINGS
@given(st.sampled_from(PREFIXES), st.binary(max_size=300), cut_lists)
def test_valid_prefix_then_garbage(prefix, tail, raw_cuts):
    """Garbage after a plausible start: still only RemoteProtocolError, split-independent."""
    data = prefix + tail
    cuts = [c % (len(data) + 1) for c in raw_cuts]
    assert parse(data, cuts) == parse(data, [])


def test_parser_is_reusable_after_an_error():
    p = ResponseParser()
    p.reset(False)
    try:
        p.feed_data(b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n")
    except RemoteProtocolError:
        pass
    else:  # pragma: no cover
        raise AssertionError("expected RemoteProtocolError")
    p.reset(False)
    assert p.feed_data(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    assert (p.status, p.take_body()) == (200, b"ok")


def parse_direct(data: bytes, cuts: list[int]) -> Any:
    """`parse`, collecting as the protocol reads a socket: each piece goes into the direct
    window while a direct read is pending (as much as fits), the rest to llhttp."""
    from cpqwest._parser import set_direct_min

    old = set_direct_min(2)  # every declared body is read directly
    try:
        p = ResponseParser()
        p.reset(False, True)
        done = False
        start = 0
        for cut in [*sorted(cuts), len(data)]:
            piece, start = data[start:cut], cut
            taken = p.read_direct(piece)
            if (piece[taken:] or not taken) and p.feed_data(piece[taken:]):
                done = True
        if not done:
            done = p.feed_eof_py()
    except RemoteProtocolError as exc:
        return ("error", str(exc))
    finally:
        set_direct_min(old)
    return (done, p.status, p.reason, p.headers, p.trailers, p.take_body(),
            p.keep_alive if done else None, p.trailing_data)


@SETTINGS
@given(responses(), cut_lists, st.binary(max_size=40))
def test_direct_reads_give_the_plain_parse(resp, raw_cuts, stray):
    """A body read straight into its final buffer holds exactly the bytes llhttp parses
    (never uninitialised memory), and bytes after it are seen as such, in any split."""
    data, expected = resp
    data += stray
    cuts = [c % (len(data) + 1) for c in raw_cuts]
    result = parse_direct(data, cuts)
    assert result == parse(data, cuts)
    if stray and not expected["needs_eof"] and result[0] != "error":
        assert result[-1]  # trailing data: the connection is not reused


@SETTINGS
@given(st.sampled_from([204, 304]), st.integers(1, 1 << 20), st.booleans())
def test_no_content_statuses_never_expose_a_declared_body(status, length, head_request):
    from cpqwest._parser import set_direct_min

    old = set_direct_min(2)
    try:
        p = ResponseParser()
        p.reset(head_request, True)
        assert p.feed_data(b"HTTP/1.1 %d X\r\ncontent-length: %d\r\n\r\n" % (status, length))
        assert p.take_body() == b""
        assert p.keep_alive and not p.trailing_data
    finally:
        set_direct_min(old)
