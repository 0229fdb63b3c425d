"""HTTPVersion, API.md §1.9. No server needed."""

# mypy: disable-error-code="comparison-overlap"

from __future__ import annotations

import copy
import pickle

import pytest

from pyqwest._version import HTTPVersion


def test_str() -> None:
    assert str(HTTPVersion.HTTP1) == "HTTP/1.1"
    assert str(HTTPVersion.HTTP2) == "HTTP/2"
    assert str(HTTPVersion.HTTP3) == "HTTP/3"
    assert f"{HTTPVersion.HTTP2}" == "HTTP/2"
    assert f"{HTTPVersion.HTTP1!s}" == "HTTP/1.1"


def test_repr() -> None:
    assert repr(HTTPVersion.HTTP1) == "HTTPVersion.HTTP1"
    assert repr(HTTPVersion.HTTP2) == "HTTPVersion.HTTP2"
    assert repr(HTTPVersion.HTTP3) == "HTTPVersion.HTTP3"
    assert repr([HTTPVersion.HTTP1]) == "[HTTPVersion.HTTP1]"


def test_equality_and_hash() -> None:
    assert HTTPVersion.HTTP1 == HTTPVersion.HTTP1
    assert HTTPVersion.HTTP2 == HTTPVersion.HTTP2
    assert HTTPVersion.HTTP3 == HTTPVersion.HTTP3
    assert HTTPVersion.HTTP1 != HTTPVersion.HTTP2
    assert HTTPVersion.HTTP2 != HTTPVersion.HTTP3
    assert HTTPVersion.HTTP1 != "HTTP/1.1"
    assert HTTPVersion.HTTP1 != 1
    assert len({HTTPVersion.HTTP1, HTTPVersion.HTTP1, HTTPVersion.HTTP2}) == 2
    assert {HTTPVersion.HTTP3: "h3"}[HTTPVersion.HTTP3] == "h3"


def test_singletons() -> None:
    assert HTTPVersion.HTTP1 is HTTPVersion.HTTP1
    assert copy.copy(HTTPVersion.HTTP2) is HTTPVersion.HTTP2
    assert copy.deepcopy(HTTPVersion.HTTP2) is HTTPVersion.HTTP2
    assert pickle.loads(pickle.dumps(HTTPVersion.HTTP3)) is HTTPVersion.HTTP3
    assert list(HTTPVersion) == [HTTPVersion.HTTP1, HTTPVersion.HTTP2, HTTPVersion.HTTP3]


def test_ordering() -> None:
    h1, h2, h3 = HTTPVersion.HTTP1, HTTPVersion.HTTP2, HTTPVersion.HTTP3
    assert h1 < h2 < h3
    assert h3 > h2 > h1
    assert h1 <= h1 <= h2
    assert h3 >= h3 >= h2
    assert not h2 < h1
    assert not h2 > h3
    assert not h1 < h1
    assert sorted([h3, h1, h2]) == [h1, h2, h3]
    assert max(h1, h3, h2) is h3
    assert min(h3, h2) is h2


def test_ordering_with_other_types_raises() -> None:
    with pytest.raises(TypeError):
        _ = HTTPVersion.HTTP1 < 2
    with pytest.raises(TypeError):
        _ = HTTPVersion.HTTP1 >= "HTTP/1.1"


def describe(version: HTTPVersion) -> str:
    match version:
        case HTTPVersion.HTTP1:
            return "one"
        case HTTPVersion.HTTP2:
            return "two"
        case HTTPVersion.HTTP3:
            return "three"
    return "none"


def test_match_value_patterns() -> None:
    assert describe(HTTPVersion.HTTP1) == "one"
    assert describe(HTTPVersion.HTTP2) == "two"
    assert describe(HTTPVersion.HTTP3) == "three"


def test_cannot_subclass() -> None:
    with pytest.raises(TypeError):

        class Sub(HTTPVersion):  # type: ignore[misc]
            HTTP4 = "HTTP/4"
