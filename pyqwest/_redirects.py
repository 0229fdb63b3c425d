"""Redirect policy (spec §0 "Redirects", §1.12), as reqwest applies it: pure functions.

The transport owns the loop: after each response it calls :func:`next_request`; None means
"return this response to the caller", otherwise it sends the request described by the
:class:`Redirect` (and counts hops: more than ``max_redirects`` → ``TooManyRedirects``).

Headers are named, lower-case, never touched here: the transport removes every name in
``Redirect.drop_headers`` from its copy of the request headers, sets ``Referer`` when
``Redirect.referer`` is not None, and resends the body only when ``Redirect.keep_body``.
With the cookie store on, it computes ``Cookie`` afresh for the new URL after dropping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import ada_url

__all__ = [
    "CONTENT_HEADERS",
    "REDIRECT_STATUSES",
    "SENSITIVE_HEADERS",
    "Redirect",
    "is_redirect",
    "next_request",
]

REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})

CONTENT_HEADERS: Final = frozenset(
    {"content-type", "content-length", "transfer-encoding", "content-encoding"}
)
"""Dropped with the body when a 301/302/303 turns the request into a GET."""

SENSITIVE_HEADERS: Final = frozenset(
    {"authorization", "cookie", "cookie2", "proxy-authorization", "www-authenticate"}
)
"""Dropped when the redirect leaves the origin (scheme, host, port)."""

_NOTHING: Final[frozenset[str]] = frozenset()
_SENSITIVE_AND_REFERER: Final = SENSITIVE_HEADERS | {"referer"}
_CONTENT_AND_SENSITIVE: Final = CONTENT_HEADERS | SENSITIVE_HEADERS
_CONTENT_AND_SENSITIVE_AND_REFERER: Final = _CONTENT_AND_SENSITIVE | {"referer"}


@dataclass(frozen=True, slots=True)
class Redirect:
    """The request to send next."""

    method: str
    url: str
    """Absolute, WHATWG-serialized; may carry a fragment (never sent on the wire)."""
    keep_body: bool
    """Resend the original body (307/308); False: send none (301/302/303)."""
    drop_headers: frozenset[str]
    """Lower-case names to remove from the request headers."""
    referer: str | None
    """Value for ``Referer`` (reqwest sends one by default), None: set none."""


def is_redirect(status: int) -> bool:
    """A status the redirect policy follows (when it has a usable ``Location``)."""
    return status in REDIRECT_STATUSES


def next_request(
    method: str,
    url: str,
    status: int,
    location: str | None,
    *,
    body_replayable: bool = True,
) -> Redirect | None:
    """The redirect to follow for a response, or None to return the response as it is.

    ``url`` is the URL of the request that got this response, ``location`` the response's
    ``Location`` header (None if absent). ``body_replayable`` is False when the request body is
    a stream that was consumed (an async iterator): a 307/308 then ends the chain. A request
    without a body, or with bytes, is replayable.

    None is also returned when ``Location`` is missing, empty, not a valid URL reference, or
    resolves to a scheme other than http/https.
    """
    if status not in REDIRECT_STATUSES or not location or not location.strip():
        return None
    try:
        target = ada_url.URL(location if location.isascii() else _as_utf8(location), base=url)
    except ValueError:
        return None
    if target.protocol not in ("http:", "https:"):
        return None

    if status in (307, 308):
        if not body_replayable:
            return None
        new_method = method
        keep_body = True
    else:  # 301, 302, 303: GET without a body (HEAD stays HEAD), as reqwest and browsers
        new_method = method if method in ("GET", "HEAD") else "GET"
        keep_body = False

    previous = ada_url.URL(url)
    cross_origin = target.origin != previous.origin
    # Referer: the previous URL without credentials and fragment, never from https to http
    if previous.protocol == "https:" and target.protocol == "http:":
        referer = None
    else:
        previous.username = ""
        previous.password = ""
        previous.hash = ""
        referer = previous.href

    if keep_body:
        if cross_origin:
            drop = SENSITIVE_HEADERS if referer is not None else _SENSITIVE_AND_REFERER
        else:
            drop = _NOTHING
    elif cross_origin:
        drop = _CONTENT_AND_SENSITIVE if referer is not None else _CONTENT_AND_SENSITIVE_AND_REFERER
    else:
        drop = CONTENT_HEADERS
    return Redirect(new_method, target.href, keep_body, drop, referer)


def _as_utf8(location: str) -> str:
    """A ``Location`` value as browsers read its bytes (header values arrive decoded as
    latin-1): UTF-8, so the URL parser percent-encodes the characters meant (RFC 9110 §10.2.2,
    RFC 3986 §2.5). A value that is not UTF-8 stays as it is: ISO-8859-1 text, the field's
    historical charset (and what a custom transport's str means)."""
    try:
        return location.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return location
