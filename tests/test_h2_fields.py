"""cpqwest._h2fields.response_fields: the RFC 9113 §8.2 checks of an HTTP/2 (and HTTP/3) response
head and trailers, each rule refused with its own message, and the spec's head limits."""

from __future__ import annotations

import pytest

from cpqwest._h2fields import MAX_HEAD_BYTES, MAX_HEADER_FIELDS, Malformed, response_fields

OK = (b":status", b"200")


def test_a_head_gives_its_status_and_latin1_fields() -> None:
    raw = [OK, (b"server", b"nginx"), (b"x-bytes", b"caf\xe9")]
    assert response_fields(raw, True) == (200, [("server", "nginx"), ("x-bytes", "caf\xe9")])


def test_trailers_have_no_status() -> None:
    assert response_fields([(b"grpc-status", b"0")], False) == (-1, [("grpc-status", "0")])


@pytest.mark.parametrize(
    ("raw", "head", "message"),
    [
        ([(b"server", b"x")], True, "response without :status"),
        ([OK, OK], True, "unexpected pseudo-header field b':status'"),
        ([(b"server", b"x"), OK], True, "unexpected pseudo-header field b':status'"),
        ([OK, (b":path", b"/")], True, "unexpected pseudo-header field b':path'"),
        ([OK], False, "unexpected pseudo-header field b':status'"),
        ([(b":status", b"20")], True, r"invalid :status b'20'"),
        ([(b":status", b"2x0")], True, r"invalid :status b'2x0'"),
        ([OK, (b"Server", b"x")], True, "invalid header field b'Server'"),
        ([OK, (b"", b"x")], True, "invalid header field b''"),
        ([OK, (b"bad name", b"x")], True, "invalid header field b'bad name'"),
        ([OK, (b"x-nul", b"a\x00b")], True, "invalid header field b'x-nul'"),
        ([OK, (b"x-crlf", b"a\r\nb")], True, "invalid header field b'x-crlf'"),
        ([OK, (b"connection", b"close")], True, "invalid header field b'connection'"),
        ([OK, (b"transfer-encoding", b"chunked")], True,
         "invalid header field b'transfer-encoding'"),
        ([OK] + [(b"x", b"y")] * (MAX_HEADER_FIELDS + 1), True,
         f"more than {MAX_HEADER_FIELDS} header fields"),
        ([OK, (b"x-big", b"v" * MAX_HEAD_BYTES)], True,
         f"response head larger than {MAX_HEAD_BYTES} bytes"),
    ],
)
def test_a_malformed_head_is_refused(raw: list[tuple[bytes, bytes]], head: bool,
                                     message: str) -> None:
    with pytest.raises(Malformed, match=message):
        response_fields(raw, head)
