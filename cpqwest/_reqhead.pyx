"""The request-head policy, sans-IO, for HTTP/1.1, HTTP/2 and HTTP/3 alike.

One scan of the caller's header fields decides everything a request head adds or drops:
the defaults (host, accept, accept-encoding, the JSON content-type), the body's framing
(Content-Length, chunked, the empty-body rule) and whether the connection closes after the
exchange. The same scan writes the fields in the form the protocol wants: HTTP/1.1 head
lines, or the HTTP/2 (and HTTP/3) header list, where connection-specific fields are dropped
(RFC 9113 §8.2.2). The CONNECT head to a proxy is written with the same line writer.

Framing refuses a caller's Content-Length that does not match a bytes body, both Content-Length
and Transfer-Encoding, or a Transfer-Encoding not ending in chunked, with a ValueError before
any byte is sent: a server would read part of the body as another request (smuggling through
our API), as h11 (httpx) refuses them.
"""

from cpython.dict cimport PyDict_Items

# The ParsedURL fields the head needs, by position (pyqwest/_url.py: href, scheme, host,
# port, authority, target, userinfo): tuple indexing is what keeps the call cheap.
cdef enum:
    URL_SCHEME = 1
    URL_AUTHORITY = 4
    URL_TARGET = 5

# What the scan saw of the caller's fields (Scan.saw), and what HTTP/2 does with a field.
cdef enum:
    SAW_HOST = 1
    SAW_ACCEPT = 2
    SAW_ACCEPT_ENCODING = 4
    SAW_CONTENT_TYPE = 8
    SAW_RANGE = 16
    SAW_LENGTH = 32         # content-length
    SAW_CODINGS = 64        # transfer-encoding
    SAW_CONNECTION = 128
    SAW_CLOSE = 256         # connection: close
    SAW_TE = 512
    H2_DROPS = 1024         # connection-specific: HTTP/2 forbids it (RFC 9113 §8.2.2)

# The form the scan writes fields in.
cdef enum:
    H1 = 0
    H2 = 1

# The caller's fields the policy looks at; all others go out as they are.
cdef dict _NOTED = {
    "host": SAW_HOST,
    "accept": SAW_ACCEPT,
    "accept-encoding": SAW_ACCEPT_ENCODING,
    "content-type": SAW_CONTENT_TYPE,
    "range": SAW_RANGE,
    "content-length": SAW_LENGTH,
    "transfer-encoding": SAW_CODINGS | H2_DROPS,
    "connection": SAW_CONNECTION | H2_DROPS,
    "te": SAW_TE,
    # hyper strips these too
    "keep-alive": H2_DROPS,
    "proxy-connection": H2_DROPS,
    "upgrade": H2_DROPS,
}
CONNECTION_FIELDS = frozenset(name for name, bits in _NOTED.items() if bits & H2_DROPS)

# Methods that carry "content-length: 0" with an empty body (as hyper does).
cdef frozenset _BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


cdef struct Scan:
    int saw                 # SAW_* bits
    Py_ssize_t length       # the body length the head declares; -1: none
    bint chunked            # the body goes chunked on HTTP/1.1


cdef inline int _put(list out, int form, str name, str value) except -1:
    if form == H1:
        out.append(name)
        out.append(": ")
        out.append(value)
        out.append("\r\n")
    else:
        out.append((name, value))
    return 0


cdef inline int _put_const(list out, int form, str line, tuple pair) except -1:
    # a constant field: its HTTP/1.1 line made once
    out.append(line if form == H1 else pair)
    return 0


cdef int _field(list out, int form, str name, list values, Scan* s) except -1:
    """Note what one caller field means for the head, and write it (HTTP/2: unless it is
    connection-specific, or a TE other than trailers; a host becomes :authority). Returns
    the field's bits."""
    cdef str value
    cdef object noted = _NOTED.get(name)
    cdef int bits = 0 if noted is None else <int>noted
    if bits:
        s.saw |= bits & ~H2_DROPS
        if bits & SAW_CONNECTION:
            for value in values:
                if "close" in value.lower():
                    s.saw |= SAW_CLOSE
        if form == H2:
            if bits & H2_DROPS:
                return bits
            if bits & SAW_HOST:
                out[2] = (":authority", values[len(values) - 1])
                return bits
            if bits & SAW_TE:
                for value in values:
                    if value.strip().lower() == "trailers":
                        out.append((name, value))
                return bits
    for value in values:
        _put(out, form, name, value)
    return bits


cdef int _scan(list out, int form, dict fields, str method, object body, Scan* s) except -1:
    """Write the caller's fields, then decide the body's framing from them and the body."""
    cdef tuple item
    cdef list lengths = None, codings = None
    cdef int bits
    s.saw = 0
    if fields:
        # a snapshot in one C call: another thread may change the Headers meanwhile
        for item in PyDict_Items(fields):
            bits = _field(out, form, <str>item[0], <list>item[1], s)
            if bits & SAW_LENGTH:
                lengths = <list>item[1]
            elif bits & SAW_CODINGS:
                codings = <list>item[1]
    if lengths is not None or codings is not None:
        _caller_framing(lengths, codings, body, s)
    elif body is None or isinstance(body, bytes):
        s.chunked = False
        s.length = len(body) if body else (0 if method in _BODY_METHODS else -1)
    else:
        s.chunked = True
        s.length = -1
    return 0


cdef int _caller_framing(list lengths, list codings, object body, Scan* s) except -1:
    """The framing the caller's Content-Length or Transfer-Encoding asks for, when the body
    agrees with it."""
    cdef str value
    if lengths is not None and codings is not None:
        raise ValueError("Content-Length and Transfer-Encoding headers cannot both be set")
    if codings is not None:
        value = ", ".join(codings)
        if value.rpartition(",")[2].strip().lower() != "chunked":
            raise ValueError(f"Transfer-Encoding header must end with chunked, got {value!r}")
        s.chunked = True
        s.length = -1
        return 0
    value = lengths[0]
    if len(lengths) > 1 or not value.isdigit() or not value.isascii():
        raise ValueError(f"Invalid Content-Length header: {', '.join(lengths)!r}")
    s.chunked = False
    s.length = int(value)
    if isinstance(body, bytes) and s.length != len(body):
        raise ValueError(
            f"Content-Length header ({s.length}) does not match the body length ({len(body)})")
    return 0


cdef int _defaults(list out, int form, Scan* s, str authority, bint is_json,
                   str accept_encoding) except -1:
    """The fields the caller left out: host (HTTP/1.1; HTTP/2 has :authority), accept,
    accept-encoding (none with a Range: the range would apply to the encoded representation,
    as in reqwest), the JSON content-type, and the framing field."""
    cdef int saw = s.saw
    if form == H1 and not saw & SAW_HOST:
        _put(out, form, "host", authority)
    if not saw & SAW_ACCEPT:
        _put_const(out, form, "accept: */*\r\n", ("accept", "*/*"))
    if accept_encoding is not None and not saw & (SAW_ACCEPT_ENCODING | SAW_RANGE):
        _put(out, form, "accept-encoding", accept_encoding)
    if is_json and not saw & SAW_CONTENT_TYPE:
        _put_const(out, form, "content-type: application/json\r\n",
                   ("content-type", "application/json"))
    if not saw & (SAW_LENGTH | SAW_CODINGS):
        if s.chunked:
            if form == H1:  # HTTP/2 frames delimit the body
                out.append("transfer-encoding: chunked\r\n")
        elif s.length >= 0:
            _put(out, form, "content-length", str(s.length))
    return 0


cdef inline tuple _url(object url):
    # a ParsedURL: a tuple subclass, which a `tuple` argument (exact type) would refuse
    if not isinstance(url, tuple):
        raise TypeError(f"url must be a ParsedURL, not {type(url).__name__}")
    return <tuple>url


cdef inline bytes _lines(list out):
    out.append("\r\n")
    return "".join(out).encode("utf-8")


def h1_head(str method, object url, dict fields, body, bint is_json, str accept_encoding,
            list proxy_pairs=None):
    """(head bytes, declared body length (-1: none), chunked, close after) of an HTTP/1.1
    request. `fields`: the caller's validated {lower-case name: [values]}, or None. With
    `proxy_pairs` the request is forwarded to a proxy: absolute-form, with those fields."""
    cdef Scan s
    cdef tuple u = _url(url)
    cdef str target = u[URL_TARGET]
    cdef tuple pair
    if proxy_pairs is not None:
        target = f"{u[URL_SCHEME]}://{u[URL_AUTHORITY]}{target}"
    cdef list out = [method, " ", target, " HTTP/1.1\r\n"]
    _scan(out, H1, fields, method, body, &s)
    if proxy_pairs is not None:
        for pair in proxy_pairs:
            _field(out, H1, <str>pair[0], [pair[1]], &s)
    _defaults(out, H1, &s, u[URL_AUTHORITY], is_json, accept_encoding)
    return _lines(out), s.length, s.chunked, (s.saw & SAW_CLOSE) != 0


def h2_headers(str method, object url, dict fields, body, bint is_json, str accept_encoding):
    """The HTTP/2 (and HTTP/3) header list of a request: (name, value) pairs, pseudo-header
    fields first. Same defaults and framing checks as `h1_head`."""
    cdef Scan s
    cdef tuple u = _url(url)
    cdef list out = [(":method", method), (":scheme", u[URL_SCHEME]),
                     (":authority", u[URL_AUTHORITY]), (":path", u[URL_TARGET])]
    _scan(out, H2, fields, method, body, &s)
    _defaults(out, H2, &s, None, is_json, accept_encoding)
    return out


def connect_head(str authority, list proxy_pairs):
    """The CONNECT head that asks a proxy for a tunnel to `authority` (host:port), with the
    proxy's fields (its credentials and headers)."""
    cdef list out = ["CONNECT ", authority, " HTTP/1.1\r\n"]
    cdef tuple pair
    _put(out, H1, "host", authority)
    for pair in proxy_pairs:
        _put(out, H1, <str>pair[0], <str>pair[1])
    return _lines(out)
