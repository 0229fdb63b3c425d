"""`Headers`, the case-insensitive ordered multi-dict, and `HTTPHeaderName` (API.md §1.7, §1.8).

Storage is one dict: lower-case name -> list of values, in insertion order. Every list in it
is non-empty and is only ever grown in place (shrinking replaces the list), so a reader holding
a list can always take `[0]`.

Thread safety: there is no lock, because one would double the cost of the hot methods. Each
mutation validates first and then publishes with one atomic dict/list call (under the GIL), so
no thread sees a half-made change; iteration works on a snapshot taken by one C-level call
(`list(d.items())`), so a concurrent writer can't make an iterator raise. Compound methods
(popitem, update) are not atomic as a whole against concurrent writers.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Mapping, MutableMapping, Set
from itertools import chain
from typing import Any, ClassVar, TypeAlias, TypeVar, final, overload

__all__ = ["HTTPHeaderName", "Headers"]

_T = TypeVar("_T")

# RFC 9110 §5.6.2: token = 1*tchar.
_is_token = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+").fullmatch
# Control characters a value may not hold: C0 except HTAB, and DEL (RFC 9110 §5.5).
_find_bad_value_char = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]").search

# Memo of validated spellings -> lower-case name: the hot methods then skip the regex. Bounded
# so that a stream of distinct names can't grow it forever; misses past the bound just pay
# the regex again.
_NAME_CACHE_MAX = 4096
_names: dict[str, str] = {}


def _name(key: object) -> str:
    """The lower-case name for `key`; ValueError if it is not a token, TypeError if not a str."""
    if type(key) is str:
        name = _names.get(key)
        if name is not None:
            return name
        if _is_token(key) is None:
            raise ValueError(f"Invalid header name: '{key}'")
        name = key.lower()
        if len(_names) < _NAME_CACHE_MAX:
            _names[key] = name
        return name
    if type(key) is HTTPHeaderName:
        return key._lower
    if isinstance(key, str):
        # A str subclass: validate a plain copy, but keep it out of the memo (its hash or
        # equality may be overridden).
        plain = str.__str__(key)
        if _is_token(plain) is None:
            raise ValueError(f"Invalid header name: '{plain}'")
        return plain.lower()
    raise TypeError(f"Header name must be str or HTTPHeaderName, not {type(key).__name__}")


def _soft_name(key: object) -> str | None:
    """Like `_name` but None instead of raising: for the lookups that never raise."""
    if type(key) is str:
        name = _names.get(key)
        if name is not None:
            return name
    elif type(key) is HTTPHeaderName:
        return key._lower
    elif not isinstance(key, str):
        return None
    try:
        return _name(key)
    except ValueError:
        return None


def _value(value: object, name: str) -> str:
    """`value` as a plain str; slow path of the inline `isprintable()` check."""
    if type(value) is not str:
        if not isinstance(value, str):
            raise TypeError(f"Header value for '{name}' must be str, not {type(value).__name__}")
        value = str.__str__(value)
    # Not printable but still valid: TAB, or non-ASCII separators such as U+00A0.
    if _find_bad_value_char(value) is not None:
        # The value itself is left out of the message: it may be a credential.
        raise ValueError(
            f"Invalid header value for '{name}': control characters other than TAB are not allowed"
        )
    return value


def _group(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """The storage dict for trusted (lower-case name, value) pairs."""
    d = {}
    for n, v in pairs:
        d[n] = [v]
    if len(d) == len(pairs):
        return d
    # Some name repeats: regroup, keeping every value.
    d = {}
    for n, v in pairs:
        values = d.get(n)
        if values is None:
            d[n] = [v]
        else:
            values.append(v)
    return d


def _iter_pairs(items: object) -> Iterator[Any]:
    """iter(items), with a clear error for something that is neither mapping nor iterable."""
    try:
        return iter(items)  # type: ignore[call-overload, no-any-return]
    except TypeError:
        raise TypeError(
            "Headers must be built from a mapping or an iterable of (name, value) pairs, "
            f"not {type(items).__name__}"
        ) from None


def _mapping_items(items: object) -> Iterable[Any] | None:
    """The items of a mapping (or of an object with only `.items()`), else None."""
    if isinstance(items, Mapping):
        return items.items()
    method = getattr(items, "items", None)
    if callable(method):
        return method()  # type: ignore[no-any-return]
    return None


def _to_map(items: object) -> dict[str, list[str]]:
    """A fresh, validated storage dict: a mapping sets (last wins), an iterable of pairs appends."""
    if type(items) is Headers:
        return {n: list(vs) for n, vs in list(items._map().items())}
    source: Iterable[Any]
    # Cheap type tests first: dicts and lists of pairs are what callers pass.
    if type(items) is dict:
        source, replace = items.items(), True
    elif type(items) is list or type(items) is tuple:
        source, replace = items, False
    else:
        mapping_items = _mapping_items(items)
        if mapping_items is None:
            source, replace = _iter_pairs(items), False
        else:
            source, replace = mapping_items, True
    d: dict[str, list[str]] = {}
    names = _names
    for pair in source:
        try:
            key, value = pair
        except (TypeError, ValueError):
            raise TypeError(f"Header items must be (name, value) pairs, got {pair!r}") from None
        # The memo lookup and isprintable() are the inline fast path of _name and _value.
        name = names.get(key) if type(key) is str else None
        if name is None:
            name = _name(key)
        if type(value) is not str or not value.isprintable():
            value = _value(value, name)
        if replace:
            d[name] = [value]
        else:
            values = d.get(name)
            if values is None:
                d[name] = [value]
            else:
                values.append(value)
    return d


@final
class HTTPHeaderName:
    """A validated HTTP header name; the class constants cover the standard ones.

    Compares case-insensitively with another HTTPHeaderName, and equal to a str that is its
    lower-case form. It hashes that lower-case form, so it finds the same dict entries as the
    plain str does.
    """

    __slots__ = ("_lower", "_name")

    _name: str  # as given, for str()
    _lower: str  # canonical form: equality, hash, repr and Headers keys

    # The 81 standard names; each is set below to HTTPHeaderName("upper-snake as kebab").
    ACCEPT: ClassVar[HTTPHeaderName]
    ACCEPT_CHARSET: ClassVar[HTTPHeaderName]
    ACCEPT_ENCODING: ClassVar[HTTPHeaderName]
    ACCEPT_LANGUAGE: ClassVar[HTTPHeaderName]
    ACCEPT_RANGES: ClassVar[HTTPHeaderName]
    ACCESS_CONTROL_ALLOW_CREDENTIALS: ClassVar[HTTPHeaderName]
    ACCESS_CONTROL_ALLOW_HEADERS: ClassVar[HTTPHeaderName]
    ACCESS_CONTROL_ALLOW_METHODS: ClassVar[HTTPHeaderName]
    ACCESS_CONTROL_ALLOW_ORIGIN: ClassVar[HTTPHeaderName]
    ACCESS_CONTROL_EXPOSE_HEADERS: ClassVar[HTTPHeaderName]
    ACCESS_CONTROL_MAX_AGE: ClassVar[HTTPHeaderName]
    ACCESS_CONTROL_REQUEST_HEADERS: ClassVar[HTTPHeaderName]
    ACCESS_CONTROL_REQUEST_METHOD: ClassVar[HTTPHeaderName]
    AGE: ClassVar[HTTPHeaderName]
    ALLOW: ClassVar[HTTPHeaderName]
    ALT_SVC: ClassVar[HTTPHeaderName]
    AUTHORIZATION: ClassVar[HTTPHeaderName]
    CACHE_CONTROL: ClassVar[HTTPHeaderName]
    CACHE_STATUS: ClassVar[HTTPHeaderName]
    CDN_CACHE_CONTROL: ClassVar[HTTPHeaderName]
    CONNECTION: ClassVar[HTTPHeaderName]
    CONTENT_DISPOSITION: ClassVar[HTTPHeaderName]
    CONTENT_ENCODING: ClassVar[HTTPHeaderName]
    CONTENT_LANGUAGE: ClassVar[HTTPHeaderName]
    CONTENT_LENGTH: ClassVar[HTTPHeaderName]
    CONTENT_LOCATION: ClassVar[HTTPHeaderName]
    CONTENT_RANGE: ClassVar[HTTPHeaderName]
    CONTENT_SECURITY_POLICY: ClassVar[HTTPHeaderName]
    CONTENT_SECURITY_POLICY_REPORT_ONLY: ClassVar[HTTPHeaderName]
    CONTENT_TYPE: ClassVar[HTTPHeaderName]
    COOKIE: ClassVar[HTTPHeaderName]
    DNT: ClassVar[HTTPHeaderName]
    DATE: ClassVar[HTTPHeaderName]
    ETAG: ClassVar[HTTPHeaderName]
    EXPECT: ClassVar[HTTPHeaderName]
    EXPIRES: ClassVar[HTTPHeaderName]
    FORWARDED: ClassVar[HTTPHeaderName]
    FROM: ClassVar[HTTPHeaderName]
    HOST: ClassVar[HTTPHeaderName]
    IF_MATCH: ClassVar[HTTPHeaderName]
    IF_MODIFIED_SINCE: ClassVar[HTTPHeaderName]
    IF_NONE_MATCH: ClassVar[HTTPHeaderName]
    IF_RANGE: ClassVar[HTTPHeaderName]
    IF_UNMODIFIED_SINCE: ClassVar[HTTPHeaderName]
    LAST_MODIFIED: ClassVar[HTTPHeaderName]
    LINK: ClassVar[HTTPHeaderName]
    LOCATION: ClassVar[HTTPHeaderName]
    MAX_FORWARDS: ClassVar[HTTPHeaderName]
    ORIGIN: ClassVar[HTTPHeaderName]
    PRAGMA: ClassVar[HTTPHeaderName]
    PROXY_AUTHENTICATE: ClassVar[HTTPHeaderName]
    PROXY_AUTHORIZATION: ClassVar[HTTPHeaderName]
    PUBLIC_KEY_PINS: ClassVar[HTTPHeaderName]
    PUBLIC_KEY_PINS_REPORT_ONLY: ClassVar[HTTPHeaderName]
    RANGE: ClassVar[HTTPHeaderName]
    REFERER: ClassVar[HTTPHeaderName]
    REFERRER_POLICY: ClassVar[HTTPHeaderName]
    REFRESH: ClassVar[HTTPHeaderName]
    RETRY_AFTER: ClassVar[HTTPHeaderName]
    SEC_WEBSOCKET_ACCEPT: ClassVar[HTTPHeaderName]
    SEC_WEBSOCKET_EXTENSIONS: ClassVar[HTTPHeaderName]
    SEC_WEBSOCKET_KEY: ClassVar[HTTPHeaderName]
    SEC_WEBSOCKET_PROTOCOL: ClassVar[HTTPHeaderName]
    SEC_WEBSOCKET_VERSION: ClassVar[HTTPHeaderName]
    SERVER: ClassVar[HTTPHeaderName]
    SET_COOKIE: ClassVar[HTTPHeaderName]
    STRICT_TRANSPORT_SECURITY: ClassVar[HTTPHeaderName]
    TE: ClassVar[HTTPHeaderName]
    TRAILER: ClassVar[HTTPHeaderName]
    TRANSFER_ENCODING: ClassVar[HTTPHeaderName]
    USER_AGENT: ClassVar[HTTPHeaderName]
    UPGRADE: ClassVar[HTTPHeaderName]
    UPGRADE_INSECURE_REQUESTS: ClassVar[HTTPHeaderName]
    VARY: ClassVar[HTTPHeaderName]
    VIA: ClassVar[HTTPHeaderName]
    WARNING: ClassVar[HTTPHeaderName]
    WWW_AUTHENTICATE: ClassVar[HTTPHeaderName]
    X_CONTENT_TYPE_OPTIONS: ClassVar[HTTPHeaderName]
    X_DNS_PREFETCH_CONTROL: ClassVar[HTTPHeaderName]
    X_FRAME_OPTIONS: ClassVar[HTTPHeaderName]
    X_XSS_PROTECTION: ClassVar[HTTPHeaderName]

    def __init__(self, name: str) -> None:
        if type(name) is not str:
            if not isinstance(name, str):
                raise TypeError(f"HTTPHeaderName() argument must be str, not {type(name).__name__}")
            name = str.__str__(name)
        if _is_token(name) is None:
            raise ValueError("Invalid header name")
        self._name = name
        self._lower = name.lower()

    def __init_subclass__(cls, **kwargs: object) -> None:
        raise TypeError("type 'HTTPHeaderName' is not an acceptable base type")

    def __str__(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"HTTPHeaderName('{self._lower}')"

    def __eq__(self, other: object) -> bool:
        if type(other) is HTTPHeaderName:
            return self._lower == other._lower
        if isinstance(other, str):
            return self._lower == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._lower)

    def __reduce__(self) -> tuple[type[HTTPHeaderName], tuple[str]]:
        return (HTTPHeaderName, (self._name,))


def _init_standard_names() -> None:
    for attr in [a for a in HTTPHeaderName.__annotations__ if a.isupper()]:
        name = attr.lower().replace("_", "-")
        setattr(HTTPHeaderName, attr, HTTPHeaderName(name))
        # Warm the name memo with the lower-case and the usual Title-Case spellings.
        _names[name] = name
        _names["-".join(part.capitalize() for part in name.split("-"))] = name


_init_standard_names()


# A str alias: it names Headers, defined below.
_HeadersInit: TypeAlias = (
    "Headers | Mapping[str, str] | Mapping[HTTPHeaderName, str]"
    " | Mapping[str | HTTPHeaderName, str] | Iterable[tuple[str | HTTPHeaderName, str]]"
)


@final
class Headers:
    """Container of HTTP headers: a dict with case-insensitive keys and str values.

    Plain dict access sees one value per name (the first); `add` keeps several values for
    one name, and `values()`/`items()` yield all of them, grouped per name.
    """

    # _d: the storage dict, or None until first use when built by `_from_wire`.
    # _pairs: the trusted wire pairs `_d` is built from (kept after that, never read again).
    __slots__ = ("_d", "_pairs")

    _d: dict[str, list[str]] | None
    _pairs: list[tuple[str, str]] | None

    def __init__(self, items: _HeadersInit | None = None) -> None:
        self._pairs = None
        self._d = {} if items is None else _to_map(items)

    def __init_subclass__(cls, **kwargs: object) -> None:
        raise TypeError("type 'Headers' is not an acceptable base type")

    # -- internal fast paths for the compiled core ------------------------------------------

    @classmethod
    def _from_wire(cls, pairs: list[tuple[str, str]]) -> Headers:
        """Headers over (lower-case name, value) pairs parsed off the wire, which are trusted.

        O(1): `pairs` is kept (not copied, so the caller must not change it afterwards) and
        the dict is built on first use.
        """
        self = object.__new__(cls)
        self._d = None
        self._pairs = pairs
        return self

    def _wire_pairs(self) -> list[tuple[str, str]]:
        """Every (name, value) in order (grouped per name), e.g. to serialize a request head."""
        # Plain loops: on 3.11 a comprehension is an extra function call.
        pairs: list[tuple[str, str]] = []
        append = pairs.append
        for n, vs in list(self._map().items()):
            for v in vs:
                append((n, v))
        return pairs

    def _extend_wire(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Append trusted (lower-case name, value) pairs, e.g. trailers once they arrive."""
        d = self._map()
        for n, v in pairs:
            values = d.get(n)
            if values is None:
                d[n] = [v]
            else:
                values.append(v)

    def _map(self) -> dict[str, list[str]]:
        d = self._d
        if d is None:
            built = _group(self._pairs or [])
            # No call between the test and the store, so under the GIL no other thread can
            # slip in between: a second first-reader can't clobber a write made meanwhile.
            d = self._d
            if d is None:
                self._d = d = built
        return d

    # -- mapping protocol -------------------------------------------------------------------

    def __getitem__(self, key: str | HTTPHeaderName) -> str:
        d = self._d
        if d is None:
            d = self._map()
        name = _names.get(key) if type(key) is str else None
        if name is None:
            name = _name(key)
        values = d.get(name)
        if values is None:
            raise KeyError(key)
        return values[0]

    def __setitem__(self, key: str | HTTPHeaderName, value: str) -> None:
        d = self._d
        if d is None:
            d = self._map()
        name = _names.get(key) if type(key) is str else None
        if name is None:
            name = _name(key)
        if type(value) is not str or not value.isprintable():
            value = _value(value, name)
        # Replacing the value keeps the name's position; a new name goes last.
        d[name] = [value]

    def __delitem__(self, key: str | HTTPHeaderName) -> None:
        if self._map().pop(_name(key), None) is None:
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        d = self._d
        if d is None:
            d = self._map()
        name = _names.get(key) if type(key) is str else None
        if name is None:
            name = _soft_name(key)
            if name is None:
                return False
        return name in d

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._map()))

    def __len__(self) -> int:
        return len(self._map())

    def __eq__(self, other: object) -> bool:
        if other is self:
            return True
        if type(other) is Headers:
            return self._map() == other._map()
        try:
            other_map = _to_map(other)
        except (TypeError, ValueError):
            return NotImplemented
        # dict == compares names regardless of order, and each name's values in order.
        return self._map() == other_map

    def __repr__(self) -> str:
        pairs = self._wire_pairs()
        if not pairs:
            return "Headers()"
        return f"Headers({', '.join(map(repr, pairs))})"

    def __reduce__(self) -> tuple[type[Headers], tuple[list[tuple[str, str]]]]:
        # copy.copy/deepcopy/pickle get an independent Headers with every value.
        return (Headers, (self._wire_pairs(),))

    # -- dict-like methods ------------------------------------------------------------------

    @overload
    def get(self, key: str | HTTPHeaderName, default: None = None) -> str | None: ...
    @overload
    def get(self, key: str | HTTPHeaderName, default: _T) -> str | _T: ...
    def get(self, key: str | HTTPHeaderName, default: object = None) -> object:
        """The first value of `key`, or `default` (also for a key that is not a str)."""
        d = self._d
        if d is None:
            d = self._map()
        if type(key) is str:
            name = _names.get(key)
            if name is None:
                name = _name(key)
        elif type(key) is HTTPHeaderName:
            name = key._lower
        elif isinstance(key, str):
            name = _name(key)
        else:
            return default
        values = d.get(name)
        return default if values is None else values[0]

    def getall(self, key: str | HTTPHeaderName) -> list[str]:
        """Every value of `key`, in order; `[]` if absent."""
        values = self._map().get(_name(key))
        return [] if values is None else list(values)

    def add(self, key: str | HTTPHeaderName, value: str) -> None:
        """Append a value for `key`, keeping the values it already has."""
        d = self._d
        if d is None:
            d = self._map()
        name = _names.get(key) if type(key) is str else None
        if name is None:
            name = _name(key)
        if type(value) is not str or not value.isprintable():
            value = _value(value, name)
        values = d.get(name)
        if values is None:
            new = [value]
            # setdefault, not a store: a concurrent add of the same new name keeps both.
            values = d.setdefault(name, new)
            if values is new:
                return
        values.append(value)

    @overload
    def pop(self, key: str | HTTPHeaderName, /) -> str: ...
    @overload
    def pop(self, key: str | HTTPHeaderName, default: _T, /) -> str | _T: ...
    def pop(self, key: str | HTTPHeaderName, *args: object) -> object:
        """Remove every value of `key` and return the first; `default` or KeyError if absent."""
        if len(args) > 1:
            raise TypeError(f"pop expected at most 2 arguments, got {1 + len(args)}")
        values = self._map().pop(_name(key), None)
        if values is not None:
            return values[0]
        if args:
            return args[0]
        raise KeyError(key)

    def popitem(self) -> tuple[str, str]:
        """Remove and return one (name, value): the last value of the first name."""
        d = self._map()
        # Only the first entry; nothing in this loop lets another thread resize `d`.
        for name, values in d.items():  # noqa: B007
            break
        else:
            raise KeyError("popitem(): headers are empty")
        if len(values) > 1:
            d[name] = values[:-1]  # a new list: readers of the old one never see it shrink
        else:
            d.pop(name, None)
        return name, values[-1]

    @overload
    def setdefault(self, key: str | HTTPHeaderName, default: None = None) -> str | None: ...
    @overload
    def setdefault(self, key: str | HTTPHeaderName, default: str) -> str: ...
    def setdefault(self, key: str | HTTPHeaderName, default: str | None = None) -> str | None:
        """The first value of `key`; if absent, set `default` (unless None) and return it."""
        d = self._map()
        name = _name(key)
        values = d.get(name)
        if values is not None:
            return values[0]
        if default is None:
            return None
        return d.setdefault(name, [_value(default, name)])[0]

    def update(self, items: _HeadersInit | None = None, /, **kwargs: str) -> None:
        """Set each pair of `items`, then of `kwargs`, replacing existing values.

        Pairs are applied one by one, so a name repeated in `items` ends with its last value.
        """
        # Everything is validated before anything changes.
        updates = {} if items is None else _to_map(items)
        if kwargs:
            updates.update(_to_map(kwargs))
        d = self._map()
        for name, values in updates.items():
            d[name] = [values[-1]]

    def clear(self) -> None:
        """Remove every header."""
        self._d = {}

    def keys(self) -> HeadersKeysView:
        """A live view of the unique names, in order."""
        return HeadersKeysView(self)

    def values(self) -> HeadersValuesView:
        """A live view of every value, grouped per name."""
        return HeadersValuesView(self)

    def items(self) -> HeadersItemsView:
        """A live view of every (name, value), grouped per name."""
        return HeadersItemsView(self)


# Code that tells mappings from pair lists by isinstance (httpx, for one) must treat Headers
# as a mapping: its items() yields every value.
MutableMapping.register(Headers)


@final
class HeadersKeysView(Set[str]):
    """Live view of a Headers' unique names."""

    __slots__ = ("_headers",)

    def __init__(self, headers: Headers) -> None:
        self._headers = headers

    def __len__(self) -> int:
        return len(self._headers._map())

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._headers._map()))

    def __contains__(self, key: object) -> bool:
        return key in self._headers

    def __repr__(self) -> str:
        return f"HeadersKeysView({list(self)!r})"

    @classmethod
    def _from_iterable(cls, it: Iterable[Any]) -> set[Any]:
        # Set operators (&, |, -) build plain sets, as dict key views do.
        return set(it)


@final
class HeadersValuesView(Collection[str]):
    """Live view of every value of a Headers, grouped per name."""

    __slots__ = ("_headers",)

    def __init__(self, headers: Headers) -> None:
        self._headers = headers

    def __len__(self) -> int:
        return sum(map(len, list(self._headers._map().values())))

    def __iter__(self) -> Iterator[str]:
        return chain.from_iterable(list(self._headers._map().values()))

    def __contains__(self, value: object) -> bool:
        return any(value in vs for vs in list(self._headers._map().values()))

    def __repr__(self) -> str:
        return f"HeadersValuesView({list(self)!r})"


@final
class HeadersItemsView(Collection[tuple[str, str]]):
    """Live view of every (name, value) of a Headers, grouped per name."""

    __slots__ = ("_headers",)

    def __init__(self, headers: Headers) -> None:
        self._headers = headers

    def __len__(self) -> int:
        return sum(map(len, list(self._headers._map().values())))

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._headers._wire_pairs())

    def __contains__(self, item: object) -> bool:
        if type(item) is not tuple or len(item) != 2:
            return False
        name = _soft_name(item[0])
        if name is None:
            return False
        values = self._headers._map().get(name)
        return values is not None and item[1] in values

    def __repr__(self) -> str:
        return f"HeadersItemsView({list(self)!r})"
