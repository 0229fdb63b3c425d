"""One logical request across its redirect hops: the sans-IO decisions every transport runs.

An `Exchange` is what a request is at its current hop (method, URL, headers, body) plus what
spans the hops (the count, the deadline). After each response head the driver asks it
`follow`: it stores the cookies and, for a redirect, becomes the next hop. The thin loops
that send hops and read heads are HTTPTransport._run (asyncio) and SyncHTTPTransport._final
(blocking); HTTP/1.1, HTTP/2 and HTTP/3, buffered and streamed, all go through this object.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cpqwest._parser import HAS_CONTENT_ENCODING, HAS_LOCATION, HAS_SET_COOKIE

from ._deadline import Deadline, start_deadline
from ._decompress import Decoder
from ._headers import Headers
from ._policy import decode_whole, outgoing_headers, redirect, response_decoder, store_cookies
from ._redirects import is_redirect
from ._response import FullResponse
from ._url import ParsedURL

if TYPE_CHECKING:
    from ._transport_core import Body, TransportCore


class Exchange:
    """One request and its redirects: the current hop (method, url, headers, body, is_json),
    the redirects followed (hops), the deadline, and the decisions after each head. Made by
    `begin`."""

    __slots__ = ("body", "core", "deadline", "headers", "hops", "is_json", "method", "url")
    core: TransportCore
    method: str
    url: ParsedURL
    headers: Headers | None
    body: Body
    is_json: bool
    hops: int
    # fixed at the start: DNS, connect, TLS, a stale retry, every hop and the body share it
    deadline: Deadline

    @property
    def streamed(self) -> bool:
        """The body is an iterator: sent once, never replayed."""
        return not isinstance(self.body, bytes)

    def request_headers(self) -> Headers | None:
        """This hop's header fields as sent: the caller's, plus `Cookie` from the jar and
        `Authorization` from the URL's credentials (the caller's Headers stays unchanged)."""
        jar = self.core._jar
        if jar is not None or self.url.userinfo is not None:
            return outgoing_headers(self.url, self.headers, jar)
        return self.headers

    def follow(self, status: int, notable: int, response_headers: Headers) -> bool:
        """After a head with notable fields (`notable` bits): store its cookies; True when it
        redirects and the redirect is followed: this exchange is then the next hop."""
        core = self.core
        if notable & HAS_SET_COOKIE:
            store_cookies(core._jar, self.url, response_headers)
        if not (notable & HAS_LOCATION and core._follow_redirects and is_redirect(status)):
            return False
        hop = redirect(
            self.method, self.url, self.headers, self.body, self.is_json, status,
            response_headers, self.hops + 1, core._max_redirects,
        )
        if hop is None:
            return False
        self.hops += 1
        self.method, self.url, self.headers, self.body, self.is_json = hop
        return True

    def decoder(self, notable: int, response_headers: Headers) -> Decoder | None:
        """The decoder of the final response's streamed body (None: passed through)."""
        if notable & HAS_CONTENT_ENCODING:
            return response_decoder(response_headers, self.core._codings)
        return None

    def full(
        self,
        status: int,
        response_headers: Headers,
        data: bytes,
        raw_trailers: list[tuple[str, str]] | None,
        notable: int,
    ) -> FullResponse:
        """The final response read whole, its body decoded per its Content-Encoding."""
        if notable & HAS_CONTENT_ENCODING:
            data = decode_whole(response_headers, data, self.core._codings)
        trailers = Headers._from_wire(raw_trailers) if raw_trailers else Headers()
        return FullResponse(status, response_headers, data, trailers)


_new = object.__new__


def begin(
    core: TransportCore,
    method: str,
    url: ParsedURL,
    headers: Headers | None,
    body: Body,
    is_json: bool,
    context_deadline: Deadline = None,
) -> Exchange:
    """The `Exchange` of a request starting now (the caller checked its transport is open):
    the total `timeout` counts from here, or the caller's earlier `context_deadline` rules.

    Every request makes one: built field by field, a third cheaper than a class call with an
    `__init__` on CPython 3.11.
    """
    timeout = core._timeout
    if timeout is not None or context_deadline is not None:
        context_deadline = start_deadline(timeout, context_deadline)
    ex: Exchange = _new(Exchange)
    ex.core, ex.method, ex.url, ex.headers = core, method, url, headers
    ex.body, ex.is_json, ex.hops, ex.deadline = body, is_json, 0, context_deadline
    return ex
