"""Headers and HTTPHeaderName, API.md §1.7 and §1.8. No server needed."""

# These tests compare across types on purpose (HTTPHeaderName with str, wrong shapes).
# mypy: disable-error-code="comparison-overlap"

from __future__ import annotations

import copy
import pickle
import threading
from collections.abc import Mapping, MutableMapping

import pytest

from pyqwest._headers import Headers, HTTPHeaderName

STANDARD_NAMES = [
    "accept", "accept-charset", "accept-encoding", "accept-language", "accept-ranges",
    "access-control-allow-credentials", "access-control-allow-headers",
    "access-control-allow-methods", "access-control-allow-origin",
    "access-control-expose-headers", "access-control-max-age",
    "access-control-request-headers", "access-control-request-method", "age", "allow",
    "alt-svc", "authorization", "cache-control", "cache-status", "cdn-cache-control",
    "connection", "content-disposition", "content-encoding", "content-language",
    "content-length", "content-location", "content-range", "content-security-policy",
    "content-security-policy-report-only", "content-type", "cookie", "dnt", "date", "etag",
    "expect", "expires", "forwarded", "from", "host", "if-match", "if-modified-since",
    "if-none-match", "if-range", "if-unmodified-since", "last-modified", "link", "location",
    "max-forwards", "origin", "pragma", "proxy-authenticate", "proxy-authorization",
    "public-key-pins", "public-key-pins-report-only", "range", "referer", "referrer-policy",
    "refresh", "retry-after", "sec-websocket-accept", "sec-websocket-extensions",
    "sec-websocket-key", "sec-websocket-protocol", "sec-websocket-version", "server",
    "set-cookie", "strict-transport-security", "te", "trailer", "transfer-encoding",
    "user-agent", "upgrade", "upgrade-insecure-requests", "vary", "via", "warning",
    "www-authenticate", "x-content-type-options", "x-dns-prefetch-control", "x-frame-options",
    "x-xss-protection",
]  # fmt: skip


def sample() -> Headers:
    h = Headers()
    h["Content-Type"] = "application/json"
    h["X-Test"] = "foo"
    return h


# -- construction ---------------------------------------------------------------------------


def test_empty() -> None:
    for h in (Headers(), Headers(None), Headers({}), Headers([]), Headers(items=None)):
        assert len(h) == 0
        assert not h
        assert list(h) == []
        assert repr(h) == "Headers()"


def test_from_mapping_sets_last_wins() -> None:
    h = Headers({"Content-Type": "a", "content-type": "b", "X-Test": "c"})
    assert list(h.items()) == [("content-type", "b"), ("x-test", "c")]


def test_from_non_dict_mapping() -> None:
    class M(Mapping[str, str]):
        def __init__(self) -> None:
            self._d = {"A": "1", "a": "2", "B": "3"}

        def __getitem__(self, k: str) -> str:
            return self._d[k]

        def __iter__(self):  # type: ignore[no-untyped-def]
            return iter(self._d)

        def __len__(self) -> int:
            return len(self._d)

    assert list(Headers(M()).items()) == [("a", "2"), ("b", "3")]


def test_from_items_only_object() -> None:
    class ItemsOnly:
        def items(self) -> list[tuple[str, str]]:
            return [("X-A", "1"), ("x-a", "2")]

    assert list(Headers(ItemsOnly()).items()) == [("x-a", "2")]  # type: ignore[arg-type]


def test_from_pairs_appends() -> None:
    h = Headers([("X-A", "1"), ("B", "2"), ("x-a", "3")])
    assert list(h.items()) == [("x-a", "1"), ("x-a", "3"), ("b", "2")]
    assert list(h) == ["x-a", "b"]
    assert h.getall("X-A") == ["1", "3"]
    # Any iterable of pairs: generator, tuple.
    h2 = Headers(p for p in [("a", "1"), ("a", "2")])
    assert h2.getall("a") == ["1", "2"]
    assert Headers((("a", "1"),)) == [("a", "1")]


def test_from_headers_copies_every_value() -> None:
    src = Headers([("a", "1"), ("a", "2"), ("b", "3")])
    h = Headers(src)
    assert list(h.items()) == [("a", "1"), ("a", "2"), ("b", "3")]
    h.add("a", "4")
    h["b"] = "x"
    assert src.getall("a") == ["1", "2"]
    assert src["b"] == "3"


def test_construction_with_http_header_name_keys() -> None:
    h = Headers({HTTPHeaderName.CONTENT_TYPE: "text/plain", HTTPHeaderName("X-Test"): "foo"})
    assert list(h.items()) == [("content-type", "text/plain"), ("x-test", "foo")]
    h2 = Headers([(HTTPHeaderName.ACCEPT, "a"), ("Accept", "b")])
    assert h2.getall("accept") == ["a", "b"]


def test_construction_errors() -> None:
    with pytest.raises(ValueError, match=r"^Invalid header name: '日本語'$"):
        Headers({"日本語": "v"})
    with pytest.raises(ValueError, match=r"^Invalid header name: 'a b'$"):
        Headers([("a b", "v")])
    with pytest.raises(ValueError, match="Invalid header value"):
        Headers({"a": "\x00v"})
    with pytest.raises(ValueError, match="Invalid header value"):
        Headers([("a", "v\r\n")])
    with pytest.raises(TypeError):
        Headers(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Headers([("a", "b", "c")])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        Headers([1])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        Headers({1: "v"})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Headers({"a": 1})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Headers({"a": b"bytes"})  # type: ignore[arg-type]


# -- names and values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["日本語", "", "a b", "a:b", "a\tb", "a\r\nb", "a\x00", "(x)", "x/y", '"q"', "k\u212a", "ä"],
)
def test_invalid_names(name: str) -> None:
    h = Headers()
    with pytest.raises(ValueError, match=r"^Invalid header name: '"):
        h[name] = "v"
    with pytest.raises(ValueError, match="Invalid header name"):
        h.add(name, "v")
    with pytest.raises(ValueError, match="Invalid header name"):
        h.update({name: "v"})
    with pytest.raises(ValueError, match="Invalid header name"):
        h.setdefault(name, "v")
    with pytest.raises(ValueError, match="Invalid header name"):
        _ = h[name]
    with pytest.raises(ValueError, match="Invalid header name"):
        h.get(name)
    with pytest.raises(ValueError, match="Invalid header name"):
        h.getall(name)
    with pytest.raises(ValueError, match="Invalid header name"):
        del h[name]
    with pytest.raises(ValueError, match="Invalid header name"):
        h.pop(name, None)
    # Membership never raises.
    assert name not in h
    assert name not in h.keys()  # noqa: SIM118 - the view, not the mapping
    assert (name, "v") not in h.items()
    assert len(h) == 0


def test_invalid_name_message_is_exact() -> None:
    with pytest.raises(ValueError) as exc:
        Headers()["日本語"] = "value"
    assert str(exc.value) == "Invalid header name: '日本語'"


def test_every_tchar_is_valid() -> None:
    name = "!#$%&'*+-.^_`|~09azAZ"
    h = Headers({name: "v"})
    assert list(h) == [name.lower()]
    assert h[name.upper()] == "v"


@pytest.mark.parametrize(
    "value",
    ["\x00v", "a\rb", "a\nb", "a\r\nb", "\x01", "\x08", "\x0b", "\x0c", "\x1f", "a\x7fb"],
)
def test_invalid_values(value: str) -> None:
    h = Headers()
    with pytest.raises(ValueError, match=r"^Invalid header value"):
        h["x"] = value
    with pytest.raises(ValueError, match=r"^Invalid header value"):
        h.add("x", value)
    with pytest.raises(ValueError, match=r"^Invalid header value"):
        h.update(x=value)
    with pytest.raises(ValueError, match=r"^Invalid header value"):
        h.setdefault("x", value)
    assert len(h) == 0


def test_value_error_does_not_leak_value() -> None:
    with pytest.raises(ValueError) as exc:
        Headers({"authorization": "Bearer secret\r\n"})
    assert "secret" not in str(exc.value)
    assert "authorization" in str(exc.value)


@pytest.mark.parametrize(
    "value", ["", " ", "a\tb", "\t", " padded ", "日本語", "caf\u00e9", "a\u00a0b", "\u2028", "~!"]
)
def test_valid_values(value: str) -> None:
    h = Headers()
    h["x"] = value
    h.add("y", value)
    assert h["x"] == value
    assert h["y"] == value


def test_value_type_errors() -> None:
    h = Headers()
    for bad in (1, None, b"x", ["x"]):
        with pytest.raises(TypeError):
            h["x"] = bad  # type: ignore[assignment]
        with pytest.raises(TypeError):
            h.add("x", bad)  # type: ignore[arg-type]
    assert len(h) == 0


def test_name_type_errors() -> None:
    h = Headers({"a": "1"})
    with pytest.raises(TypeError):
        h[1] = "v"  # type: ignore[index]
    with pytest.raises(TypeError):
        _ = h[1]  # type: ignore[index]
    with pytest.raises(TypeError):
        h.add(b"a", "v")  # type: ignore[arg-type]


def test_str_subclasses_are_stored_as_str() -> None:
    class S(str):
        pass

    h = Headers()
    h[S("X-A")] = S("v")
    assert h["x-a"] == "v"
    assert type(next(iter(h))) is str
    assert type(h["x-a"]) is str
    assert S("x-a") in h


# -- mapping access -------------------------------------------------------------------------


def test_getitem_first_value_case_insensitive() -> None:
    h = Headers([("X-Test", "foo"), ("x-test", "bar")])
    assert h["x-test"] == "foo"
    assert h["X-TEST"] == "foo"
    assert h[HTTPHeaderName("x-TEST")] == "foo"
    with pytest.raises(KeyError):
        _ = h["missing"]
    with pytest.raises(KeyError):
        _ = h[HTTPHeaderName("missing")]


def test_setitem_replaces_all_values_keeping_position() -> None:
    h = Headers([("a", "1"), ("b", "2"), ("a", "3"), ("c", "4")])
    h["A"] = "x"
    assert list(h.items()) == [("a", "x"), ("b", "2"), ("c", "4")]
    h["d"] = "5"
    assert list(h) == ["a", "b", "c", "d"]


def test_delitem() -> None:
    h = Headers([("a", "1"), ("b", "2"), ("a", "3")])
    del h["A"]
    assert list(h.items()) == [("b", "2")]
    with pytest.raises(KeyError):
        del h["a"]
    h["a"] = "again"
    assert list(h) == ["b", "a"]
    del h[HTTPHeaderName("B")]
    assert list(h) == ["a"]


def test_contains_never_raises() -> None:
    h = sample()
    assert "content-type" in h
    assert "CONTENT-TYPE" in h
    assert HTTPHeaderName.CONTENT_TYPE in h
    assert "missing" not in h
    for other in (10, None, b"content-type", ("content-type",), 1.5, object(), "日本語", ""):
        assert other not in h
    assert ["unhashable"] not in h


def test_iter_and_len_unique_names() -> None:
    h = Headers([("a", "1"), ("b", "2"), ("a", "3")])
    assert list(h) == ["a", "b"]
    assert len(h) == 2
    assert bool(h)


def test_get() -> None:
    h = Headers([("a", "1"), ("a", "2")])
    assert h.get("A") == "1"
    assert h.get(HTTPHeaderName("a")) == "1"
    assert h.get("missing") is None
    assert h.get("missing", "default") == "default"
    assert h.get("missing", default="kw") == "kw"
    assert h.get(10) is None  # type: ignore[call-overload]
    assert h.get(10, "d") == "d"  # type: ignore[call-overload]
    assert h.get(None, "d") == "d"  # type: ignore[call-overload]


def test_getall() -> None:
    h = Headers([("a", "1"), ("b", "x"), ("A", "2")])
    assert h.getall("a") == ["1", "2"]
    assert h.getall(HTTPHeaderName("A")) == ["1", "2"]
    assert h.getall("missing") == []
    # A copy, not the storage.
    h.getall("a").append("3")
    assert h.getall("a") == ["1", "2"]


def test_pop() -> None:
    h = Headers([("a", "1"), ("a", "2"), ("b", "3")])
    assert h.pop("A") == "1"
    assert "a" not in h
    assert h.pop("a", None) is None
    assert h.pop("a", "dflt") == "dflt"
    with pytest.raises(KeyError):
        h.pop("a")
    with pytest.raises(TypeError, match="at most 2 arguments, got 3"):
        h.pop("b", None, "foo")  # type: ignore[call-overload]
    assert h.pop(HTTPHeaderName("B")) == "3"
    assert len(h) == 0


def test_popitem_last_value_of_first_name() -> None:
    h = Headers([("a", "1"), ("b", "2"), ("a", "3")])
    assert h.popitem() == ("a", "3")
    assert h.popitem() == ("a", "1")
    assert h.popitem() == ("b", "2")
    with pytest.raises(KeyError):
        h.popitem()


def test_popitem_drains_everything() -> None:
    h = Headers()
    h["authorization"] = "cookie"
    h.add("x-animal", "fox")
    h.add("x-animal", "elephant")
    h["plant"] = "cactus"
    h["fruit"] = "apple"
    popped = [h.popitem() for _ in range(5)]
    assert sorted(popped) == [
        ("authorization", "cookie"),
        ("fruit", "apple"),
        ("plant", "cactus"),
        ("x-animal", "elephant"),
        ("x-animal", "fox"),
    ]
    assert len(h) == 0


def test_setdefault() -> None:
    h = Headers({"content-type": "application/json"})
    assert h.setdefault("Content-Type", "text/plain") == "application/json"
    assert h["content-type"] == "application/json"
    assert h.setdefault("new-header", "new-value") == "new-value"
    assert h["new-header"] == "new-value"
    # Absent without default: returns None and sets nothing.
    assert h.setdefault("another-header") is None
    assert "another-header" not in h
    with pytest.raises(KeyError):
        _ = h["another-header"]
    assert h.setdefault(HTTPHeaderName("X-Y"), "z") == "z"
    assert h.getall("x-y") == ["z"]
    # The default of a present name is not used, so not validated either.
    assert h.setdefault("x-y", "\x00") == "z"
    # Multiple values: the first is returned and all are kept.
    h.add("x-y", "w")
    assert h.setdefault("x-y", "q") == "z"
    assert h.getall("x-y") == ["z", "w"]


def test_add_appends() -> None:
    h = Headers()
    h.add("X-Test", "foo")
    h.add("x-test", "bar")
    h.add(HTTPHeaderName("X-TEST"), "baz")
    assert len(h) == 1
    assert h["x-test"] == "foo"
    assert h.getall("x-test") == ["foo", "bar", "baz"]
    h.add("other", "1")
    assert list(h.items()) == [
        ("x-test", "foo"),
        ("x-test", "bar"),
        ("x-test", "baz"),
        ("other", "1"),
    ]


def test_update() -> None:
    h = Headers()
    h["authorization"] = "cookie"
    h.add("x-animal", "bear")
    h.add("x-animal", "cat")
    h.update({"X-Animal": "dog"}, plant="cactus")
    assert list(h.items()) == [
        ("authorization", "cookie"),
        ("x-animal", "dog"),
        ("plant", "cactus"),
    ]
    h.update(fruit="banana")
    assert h["fruit"] == "banana"
    h.update({"fruit": "orange"})
    assert h["fruit"] == "orange"
    # Pairs replace one by one: a repeated name ends with its last value; kwargs come last.
    h.update([("x-animal", "elephant"), ("x-animal", "fox")], fruit="apple")
    assert list(h.items()) == [
        ("authorization", "cookie"),
        ("x-animal", "fox"),
        ("plant", "cactus"),
        ("fruit", "apple"),
    ]
    h.update()
    h.update(None)
    assert len(h) == 4
    # `items` is positional-only: as a keyword it is a header name.
    h.update(items="x")
    assert h["items"] == "x"


def test_update_from_headers_and_http_header_names() -> None:
    h = Headers({"a": "1"})
    h.update(Headers([("a", "2"), ("a", "3"), ("b", "4")]))
    assert list(h.items()) == [("a", "3"), ("b", "4")]
    h.update({HTTPHeaderName.ACCEPT: "x"})
    assert h["accept"] == "x"


def test_update_errors() -> None:
    h = Headers()
    with pytest.raises(TypeError):
        h.update(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Invalid header name"):
        h.update(**{"bad name": "v"})


def test_clear() -> None:
    h = sample()
    items = h.items()
    h.clear()
    assert len(h) == 0
    assert list(items) == []
    h["a"] = "1"
    assert list(items) == [("a", "1")]


# -- views ----------------------------------------------------------------------------------


def test_views_are_live() -> None:
    h = Headers()
    keys, values, items = h.keys(), h.values(), h.items()
    assert len(keys) == len(values) == len(items) == 0
    assert list(keys) == list(values) == list(items) == []
    h.add("X-Test", "foo")
    h.add("X-Test", "bar")
    h["authorization"] = "cookie"
    assert list(keys) == ["x-test", "authorization"]
    assert list(values) == ["foo", "bar", "cookie"]
    assert list(items) == [("x-test", "foo"), ("x-test", "bar"), ("authorization", "cookie")]
    assert len(keys) == 2
    assert len(values) == 3
    assert len(items) == 3


def test_keys_view_contains() -> None:
    keys = sample().keys()
    assert "x-test" in keys
    assert "X-TEST" in keys
    assert HTTPHeaderName("x-test") in keys
    assert "foo" not in keys
    assert 10 not in keys
    assert "日本語" not in keys


def test_keys_view_set_operations() -> None:
    keys = sample().keys()
    assert keys == {"content-type", "x-test"}
    assert keys & {"x-test", "other"} == {"x-test"}
    assert keys | {"other"} == {"content-type", "x-test", "other"}


def test_values_view_contains() -> None:
    h = Headers([("a", "foo"), ("a", "bar"), ("b", "baz")])
    values = h.values()
    assert "foo" in values
    assert "bar" in values
    assert "baz" in values
    assert "qux" not in values
    assert 10 not in values
    assert None not in values


def test_items_view_contains() -> None:
    h = Headers([("X-Test", "foo"), ("x-test", "bar")])
    items = h.items()
    assert ("x-test", "foo") in items
    assert ("X-TEST", "bar") in items
    assert (HTTPHeaderName("x-test"), "foo") in items
    assert ("x-test", "baz") not in items
    assert ("missing", "foo") not in items
    # Wrong shape or types: False, never an error.
    assert (10, "foo") not in items
    assert ("x-test", 10) not in items
    assert ("x-test",) not in items
    assert ("x-test", "foo", "x") not in items
    assert "x-test" not in items
    assert ["x-test", "foo"] not in items
    assert ("日本語", "foo") not in items
    assert None not in items


def test_items_view_dict_roundtrip() -> None:
    mixed: dict[str | HTTPHeaderName, str] = {HTTPHeaderName.ACCEPT: "a", "B": "b"}
    h = Headers(mixed)
    assert dict(h.items()) == {"accept": "a", "b": "b"}
    assert dict(h) == {"accept": "a", "b": "b"}


def test_iteration_survives_mutation() -> None:
    h = Headers({"a": "1", "b": "2"})
    for name in h:
        h[name + "x"] = "y"
    for name, _ in h.items():
        del h[name]
    assert len(h) == 0


# -- equality and repr ----------------------------------------------------------------------


def test_equality() -> None:
    h = sample()
    assert h == h
    assert h == Headers({"Content-Type": "application/json", "X-Test": "foo"})
    assert h == {"content-type": "application/json", "x-test": "foo"}
    assert h == {("content-type", "application/json"), ("x-test", "foo")}
    assert h == [("Content-Type", "application/json"), ("X-Test", "foo")]
    # Name order does not matter.
    assert h == [("x-test", "foo"), ("content-type", "application/json")]
    assert h != [("Content-Type", "application/json")]
    assert h != {("content-type", "application/json"), ("x-test", "bar")}
    assert h != [
        ("Content-Type", "application/json"),
        ("X-Test", "foo"),
        ("X-Test2", "bar"),
    ]
    assert h != Headers()


def test_equality_multi_values_order_matters() -> None:
    h = Headers([("a", "1"), ("a", "2"), ("b", "3")])
    assert h == [("a", "1"), ("b", "3"), ("a", "2")]
    assert h != [("a", "2"), ("a", "1"), ("b", "3")]
    assert h != [("a", "1"), ("b", "3")]
    assert h == Headers([("A", "1"), ("A", "2"), ("B", "3")])
    assert h != Headers([("A", "1"), ("B", "3")])


def test_equality_with_http_header_names() -> None:
    h = sample()
    assert h == {(HTTPHeaderName.CONTENT_TYPE, "application/json"), ("x-test", "foo")}
    assert h == [
        (HTTPHeaderName.CONTENT_TYPE, "application/json"),
        (HTTPHeaderName("X-Test"), "foo"),
    ]


def test_equality_with_unconvertible_is_false() -> None:
    h = sample()
    for other in (10, None, "abc", [1, 2], [("bad name", "v")], {"a": 1}, object()):
        assert h != other
        assert not (h == other)  # noqa: SIM201 - __eq__, not __ne__
    assert Headers() != 0


def test_unhashable() -> None:
    with pytest.raises(TypeError):
        hash(Headers())


def test_repr() -> None:
    h = Headers()
    assert repr(h) == "Headers()"
    h["Content-Type"] = "application/json"
    h["X-Test"] = "foo"
    assert repr(h) == "Headers(('content-type', 'application/json'), ('x-test', 'foo'))"
    h.add("x-test", "bar")
    assert repr(h) == (
        "Headers(('content-type', 'application/json'), ('x-test', 'foo'), ('x-test', 'bar'))"
    )
    assert str(h) == repr(h)


# -- class properties -----------------------------------------------------------------------


def test_is_a_mutable_mapping_for_isinstance() -> None:
    assert isinstance(Headers(), MutableMapping)
    assert isinstance(Headers(), Mapping)


def test_headers_is_final() -> None:
    with pytest.raises(TypeError):

        class Sub(Headers):  # type: ignore[misc]
            pass


def test_no_instance_dict() -> None:
    h = Headers()
    with pytest.raises(AttributeError):
        h.foo = 1  # type: ignore[attr-defined]


def test_copy_and_pickle_are_independent() -> None:
    h = Headers([("a", "1"), ("a", "2"), ("b", "3")])
    for other in (copy.copy(h), copy.deepcopy(h), pickle.loads(pickle.dumps(h))):
        assert type(other) is Headers
        assert other == h
        assert list(other.items()) == list(h.items())
        other.add("a", "x")
        assert h.getall("a") == ["1", "2"]


def test_all_standard_header_names() -> None:
    cases = [*((n, n) for n in STANDARD_NAMES), ("x-pyvoy", "x-pyvoy")]
    h = Headers(cases)
    assert sorted(h) == sorted(n for n, _ in cases)
    for name in STANDARD_NAMES:
        # Lookups in any case, via str or HTTPHeaderName, and Title-Case spellings.
        assert h[name.upper()] == name
        assert h["-".join(p.capitalize() for p in name.split("-"))] == name
        assert h[HTTPHeaderName(name)] == name


# -- internal fast paths --------------------------------------------------------------------


def test_from_wire_is_lazy_and_complete() -> None:
    pairs = [
        ("content-type", "text/plain"),
        ("set-cookie", "a=1"),
        ("x", "y"),
        ("set-cookie", "b=2"),
    ]
    h = Headers._from_wire(pairs)
    assert h._d is None  # nothing built yet
    assert h["set-cookie"] == "a=1"
    assert h._d is not None
    assert h.getall("Set-Cookie") == ["a=1", "b=2"]
    assert list(h) == ["content-type", "set-cookie", "x"]
    assert list(h.items()) == [
        ("content-type", "text/plain"),
        ("set-cookie", "a=1"),
        ("set-cookie", "b=2"),
        ("x", "y"),
    ]
    assert h == pairs


@pytest.mark.parametrize(
    "use",
    [
        lambda h: h.get("a"),
        lambda h: h["a"],
        lambda h: "a" in h,
        lambda h: len(h),
        lambda h: list(h),
        lambda h: repr(h),
        lambda h: h == Headers({"a": "1"}),
        lambda h: Headers({"a": "1"}) == h,
        lambda h: h.keys().__len__(),
        lambda h: list(h.values()),
        lambda h: list(h.items()),
        lambda h: ("a", "1") in h.items(),
        lambda h: h.getall("a"),
        lambda h: h._wire_pairs(),
        lambda h: Headers(h),
        lambda h: h.copy() if hasattr(h, "copy") else copy.copy(h),
    ],
)
def test_from_wire_every_entry_point_builds(use) -> None:  # type: ignore[no-untyped-def]
    h = Headers._from_wire([("a", "1"), ("b", "2"), ("a", "3")])
    use(h)
    assert list(h.items()) == [("a", "1"), ("a", "3"), ("b", "2")]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda h: h.__setitem__("a", "x"), [("a", "x"), ("b", "2")]),
        (lambda h: h.add("b", "x"), [("a", "1"), ("a", "3"), ("b", "2"), ("b", "x")]),
        (lambda h: h.__delitem__("a"), [("b", "2")]),
        (lambda h: h.pop("b"), [("a", "1"), ("a", "3")]),
        (lambda h: h.popitem(), [("a", "1"), ("b", "2")]),
        (lambda h: h.setdefault("c", "4"), [("a", "1"), ("a", "3"), ("b", "2"), ("c", "4")]),
        (lambda h: h.update(a="z"), [("a", "z"), ("b", "2")]),
        (lambda h: h.clear(), []),
    ],
)
def test_from_wire_mutations(mutate, expected) -> None:  # type: ignore[no-untyped-def]
    h = Headers._from_wire([("a", "1"), ("b", "2"), ("a", "3")])
    mutate(h)
    assert list(h.items()) == expected


def test_from_wire_empty() -> None:
    h = Headers._from_wire([])
    assert len(h) == 0
    assert repr(h) == "Headers()"
    h["a"] = "b"
    assert h["a"] == "b"


def test_wire_pairs() -> None:
    h = Headers([("Host", "example.com"), ("X-A", "1"), ("Accept", "*/*"), ("x-a", "2")])
    assert list(h._wire_pairs()) == [
        ("host", "example.com"),
        ("x-a", "1"),
        ("x-a", "2"),
        ("accept", "*/*"),
    ]
    assert list(Headers()._wire_pairs()) == []
    # A snapshot: changing the headers afterwards doesn't change pairs already taken.
    pairs = h._wire_pairs()
    h["new"] = "v"
    assert ("new", "v") not in list(pairs)


def test_extend_wire() -> None:
    trailers = Headers()
    items = trailers.items()
    trailers._extend_wire([("x-echo-trailer", "last info"), ("x-t", "1"), ("x-t", "2")])
    assert list(items) == [("x-echo-trailer", "last info"), ("x-t", "1"), ("x-t", "2")]
    lazy = Headers._from_wire([("a", "1")])
    lazy._extend_wire([("a", "2"), ("b", "3")])
    assert list(lazy.items()) == [("a", "1"), ("a", "2"), ("b", "3")]


def test_concurrent_adds_keep_every_value() -> None:
    h = Headers()
    barrier = threading.Barrier(8)

    def work(i: int) -> None:
        barrier.wait()
        for j in range(500):
            h.add("x", f"{i}-{j}")
            _ = list(h.items())
            _ = "x" in h

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(h.getall("x")) == 8 * 500


def test_concurrent_readers_and_writers_never_raise() -> None:
    h = Headers({"a": "1"})
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            h[f"n{i % 50}"] = "v"
            h.add("a", "x")
            h.pop(f"n{(i + 25) % 50}", None)
            if len(h.getall("a")) > 20:
                h["a"] = "1"
            i += 1

    def reader() -> None:
        try:
            for _ in range(2000):
                list(h)
                list(h.items())
                list(h.values())
                _ = h["a"]
                _ = h.get("n3")
                repr(h)
                _ = h == h.items()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    w = threading.Thread(target=writer)
    readers = [threading.Thread(target=reader) for _ in range(3)]
    w.start()
    for r in readers:
        r.start()
    for r in readers:
        r.join()
    stop.set()
    w.join()
    assert errors == []


# -- HTTPHeaderName -------------------------------------------------------------------------


def test_http_header_name_constants() -> None:
    public = [a for a in dir(HTTPHeaderName) if not a.startswith("_")]
    assert len(public) == 81
    expected = {n.upper().replace("-", "_"): n for n in STANDARD_NAMES}
    assert set(public) == set(expected)
    for attr, name in expected.items():
        value = getattr(HTTPHeaderName, attr)
        assert type(value) is HTTPHeaderName
        assert str(value) == name
        assert repr(value) == f"HTTPHeaderName('{name}')"
        assert value == name
    assert str(HTTPHeaderName.CONTENT_TYPE) == "content-type"
    assert repr(HTTPHeaderName.CONTENT_TYPE) == "HTTPHeaderName('content-type')"
    assert str(HTTPHeaderName.WWW_AUTHENTICATE) == "www-authenticate"


def test_http_header_name_all_constants_as_keys() -> None:
    names: dict[HTTPHeaderName, str] = {
        getattr(HTTPHeaderName, a): a for a in dir(HTTPHeaderName) if a.isupper()
    }
    h = Headers(names)
    assert len(h) == 81
    assert sorted(h) == sorted(STANDARD_NAMES)
    assert h["x-xss-protection"] == "X_XSS_PROTECTION"


def test_http_header_name_str_repr() -> None:
    n = HTTPHeaderName("X-Custom")
    assert str(n) == "X-Custom"
    assert repr(n) == "HTTPHeaderName('x-custom')"


def test_http_header_name_equality() -> None:
    n = HTTPHeaderName("X-Test")
    assert n == HTTPHeaderName("x-test")
    assert n == HTTPHeaderName("X-TEST")
    assert n != HTTPHeaderName("x-other")
    assert n == "x-test"
    assert "x-test" == n  # noqa: SIM300 - the reflected comparison
    assert n != "X-Test"  # a str must be the lower-case name
    assert n != 10
    assert n != None  # noqa: E711
    assert n != b"x-test"
    assert HTTPHeaderName.ACCEPT != 10
    assert HTTPHeaderName("Content-Type") == HTTPHeaderName.CONTENT_TYPE


def test_http_header_name_hash_is_lower_case_name() -> None:
    n = HTTPHeaderName("X-Test")
    assert hash(n) == hash(HTTPHeaderName("x-test")) == hash("x-test")
    d = {n: 1}
    assert d[HTTPHeaderName("x-TEST")] == 1
    assert d["x-test"] == 1  # type: ignore[index]
    assert {"x-test": 2}[n] == 2  # type: ignore[index]
    assert len({n, HTTPHeaderName("x-test"), "x-test"}) == 1


def test_http_header_name_invalid() -> None:
    for bad in ("日本語", "", "a b", "a:b", "a\r\n"):
        with pytest.raises(ValueError, match=r"^Invalid header name$"):
            HTTPHeaderName(bad)
    with pytest.raises(TypeError):
        HTTPHeaderName(1)  # type: ignore[arg-type]
    h = Headers()
    with pytest.raises(ValueError, match="Invalid header name"):
        h[HTTPHeaderName("日本語")] = "value"
    with pytest.raises(ValueError, match="Invalid header value"):
        h[HTTPHeaderName("value")] = "\x00value"


def test_http_header_name_in_headers() -> None:
    h = Headers()
    keys, values, items = h.keys(), h.values(), h.items()
    assert (HTTPHeaderName("foo"), "bar") not in items
    assert HTTPHeaderName("foo") not in h
    assert HTTPHeaderName("foo") not in keys
    with pytest.raises(KeyError):
        _ = h[HTTPHeaderName("missing")]
    with pytest.raises(KeyError):
        del h[HTTPHeaderName("missing")]
    assert h.get(HTTPHeaderName("missing")) is None
    assert h.get(HTTPHeaderName("missing"), "default") == "default"
    assert h.getall(HTTPHeaderName("missing")) == []

    h[HTTPHeaderName.CONTENT_TYPE] = "application/json"
    h[HTTPHeaderName("X-Test")] = "foo"
    assert repr(h) == "Headers(('content-type', 'application/json'), ('x-test', 'foo'))"
    assert h.setdefault(HTTPHeaderName.CONTENT_TYPE, "text/plain") == "application/json"
    assert list(keys) == [HTTPHeaderName.CONTENT_TYPE, HTTPHeaderName("x-test")]
    assert list(items) == [
        (HTTPHeaderName.CONTENT_TYPE, "application/json"),
        (HTTPHeaderName("x-test"), "foo"),
    ]
    assert list(values) == ["application/json", "foo"]
    mixed: dict[str | HTTPHeaderName, str] = {
        HTTPHeaderName.CONTENT_TYPE: "application/json",
        "x-test": "foo",
    }
    assert h == Headers(mixed)
    del h[HTTPHeaderName.CONTENT_TYPE]
    assert HTTPHeaderName.CONTENT_TYPE not in h
    # Keys come back as plain lower-case str.
    assert [type(k) for k in h] == [str]


def test_http_header_name_final_copy_pickle() -> None:
    with pytest.raises(TypeError):

        class Sub(HTTPHeaderName):  # type: ignore[misc]
            pass

    n = HTTPHeaderName("X-Test")
    for other in (copy.copy(n), copy.deepcopy(n), pickle.loads(pickle.dumps(n))):
        assert other == n
        assert str(other) == "X-Test"
