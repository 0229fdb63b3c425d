"""The checks of an HTTP/2 or HTTP/3 response head or trailers (RFC 9113 §8.2, RFC 9114 §4.2;
h2's own inbound validation is off: it costs more than all the rest of a response), in one pass
over the decoder's (name, value) byte pairs."""

from cpython.unicode cimport PyUnicode_DecodeLatin1

from cpqwest._reqhead import CONNECTION_FIELDS

# Response head limits, as on HTTP/1.1 (spec §0).
MAX_HEADER_FIELDS = 100
MAX_HEAD_BYTES = 256 << 10

cdef frozenset _FORBIDDEN = frozenset(name.encode() for name in CONNECTION_FIELDS)
cdef Py_ssize_t _MAX_FIELDS = MAX_HEADER_FIELDS
cdef Py_ssize_t _MAX_BYTES = MAX_HEAD_BYTES

# the bytes of a field name: RFC 9110 tchar, lower-case only (RFC 9113 §8.2.1)
cdef bint _TCHAR[256]
for _c in range(256):
    _TCHAR[_c] = (ord("a") <= _c <= ord("z") or ord("0") <= _c <= ord("9")
                  or chr(_c) in "!#$%&'*+-.^_`|~")


class Malformed(Exception):
    """A response head or trailers that break RFC 9113 §8.2 (a stream error)."""


cdef inline bint _is_token(bytes name):
    cdef const unsigned char* p = <const unsigned char*> name
    cdef Py_ssize_t i, n = len(name)
    if n == 0:
        return False
    for i in range(n):
        if not _TCHAR[p[i]]:
            return False
    return True


cdef inline bint _bad_value(bytes value):
    cdef const unsigned char* p = <const unsigned char*> value
    cdef Py_ssize_t i
    cdef unsigned char c
    for i in range(len(value)):
        c = p[i]
        if c == 0 or c == 13 or c == 10:
            return True
    return False


def response_fields(list raw, bint head):
    """Status and (name, value) pairs of a response head (or trailers, `head` False), checked
    as RFC 9113 §8.2 wants."""
    cdef int status = -1
    cdef list pairs = []
    cdef Py_ssize_t size = 0
    cdef bytes name, value
    for item in raw:
        name = <bytes?> item[0]
        value = <bytes?> item[1]
        if len(name) and (<const unsigned char*> name)[0] == 58:  # ":"
            if not head or pairs or name != b":status" or status >= 0:
                raise Malformed(f"unexpected pseudo-header field {name!r}")
            if len(value) != 3 or not value.isdigit() or value < b"100":
                raise Malformed(f"invalid :status {value!r}")
            status = int(value)
            continue
        if not _is_token(name) or _bad_value(value) or name in _FORBIDDEN:
            raise Malformed(f"invalid header field {name!r}")
        size += len(name) + len(value)
        pairs.append((PyUnicode_DecodeLatin1(name, len(name), NULL),
                      PyUnicode_DecodeLatin1(value, len(value), NULL)))
    if head and status < 0:
        raise Malformed("response without :status")
    if len(pairs) > _MAX_FIELDS:
        raise Malformed(f"more than {MAX_HEADER_FIELDS} header fields")
    if size > _MAX_BYTES:
        raise Malformed(f"response head larger than {MAX_HEAD_BYTES} bytes")
    return status, pairs
