"""HPACK (RFC 7541) in C: a decoder and an encoder for our HTTP/2 connections.

Coding header blocks in pure Python (hpack) costs more than everything else in a small
HTTP/2 exchange; these do the same work at C speed.

`Decoder` keeps hpack's interface (`decode(data, raw)`, `max_header_list_size`,
`max_allowed_table_size`, `header_table_size`) and raises hpack's exception classes. The
Huffman state machine is hpack's own table (nghttp2's), copied into a C array at import.

`Encoder` codes request heads without state: a field of the static table is indexed, every
other one is a literal without indexing (never indexed for credentials), no Huffman. Its
dynamic table is set to size 0 at the start of the first block, so the peer's decoder never
holds an entry of ours and never expects another size update (whatever its
SETTINGS_HEADER_TABLE_SIZE becomes): a block depends only on its fields.
"""

from collections import deque

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.string cimport memcpy

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object s, Py_ssize_t* size) except NULL

from hpack.exceptions import (
    HPACKDecodingError,
    InvalidTableIndex,
    InvalidTableSizeError,
    OversizedHeaderListError,
)
from hpack.huffman_table import HUFFMAN_TABLE
from hpack.table import HeaderTable

cdef enum:
    HUFFMAN_COMPLETE = 1
    HUFFMAN_EMIT_SYMBOL = 2
    HUFFMAN_FAIL = 4
    ENTRY_OVERHEAD = 32
    INT_MAX_BITS = 28        # integers beyond 2**28 are refused (no header is that large)

cdef struct _Transition:
    unsigned char state
    unsigned char flags
    unsigned char symbol

cdef _Transition _huffman[256 * 16]
cdef Py_ssize_t _i
for _i in range(len(HUFFMAN_TABLE)):
    _huffman[_i].state = HUFFMAN_TABLE[_i][0]
    _huffman[_i].flags = HUFFMAN_TABLE[_i][1]
    _huffman[_i].symbol = HUFFMAN_TABLE[_i][2] if HUFFMAN_TABLE[_i][2] is not None else 0

cdef tuple _STATIC = tuple(HeaderTable.STATIC_TABLE)
cdef Py_ssize_t _STATIC_LEN = len(_STATIC)


cdef bytes _huffman_decode(const unsigned char* p, Py_ssize_t n):
    cdef unsigned char* out
    cdef Py_ssize_t i, k = 0
    cdef unsigned int state = 0, flags = 0, index
    cdef unsigned char byte
    cdef _Transition t
    if n == 0:
        return b""
    # every 5 bits at least one symbol: at most 8n/5 output bytes
    out = <unsigned char*>PyMem_Malloc(2 * n)
    if out == NULL:
        raise MemoryError()
    try:
        for i in range(n):
            byte = p[i]
            t = _huffman[state * 16 + (byte >> 4)]
            if t.flags & HUFFMAN_FAIL:
                raise HPACKDecodingError("Invalid Huffman string")
            if t.flags & HUFFMAN_EMIT_SYMBOL:
                out[k] = t.symbol
                k += 1
            state = t.state
            t = _huffman[state * 16 + (byte & 0x0F)]
            if t.flags & HUFFMAN_FAIL:
                raise HPACKDecodingError("Invalid Huffman string")
            if t.flags & HUFFMAN_EMIT_SYMBOL:
                out[k] = t.symbol
                k += 1
            state = t.state
            flags = t.flags
        if not (flags & HUFFMAN_COMPLETE):
            raise HPACKDecodingError("Incomplete Huffman string")
        return PyBytes_FromStringAndSize(<char*>out, k)
    finally:
        PyMem_Free(out)


cdef class Decoder:
    """Decodes HPACK header blocks; one per connection (the dynamic table is its state)."""

    cdef object _entries          # deque of (name, value), newest first
    cdef Py_ssize_t _size         # RFC 7541 §4.1 size of the dynamic table
    cdef Py_ssize_t _maxsize
    cdef public Py_ssize_t max_header_list_size
    cdef public Py_ssize_t max_allowed_table_size

    def __init__(self, Py_ssize_t max_header_list_size=65536):
        self._entries = deque()
        self._size = 0
        self._maxsize = 4096
        self.max_header_list_size = max_header_list_size
        self.max_allowed_table_size = 4096

    @property
    def header_table_size(self):
        return self._maxsize

    @header_table_size.setter
    def header_table_size(self, Py_ssize_t value):
        self._resize(value)

    cdef void _resize(self, Py_ssize_t value):
        self._maxsize = value
        self._shrink()

    cdef void _shrink(self):
        cdef tuple entry
        while self._size > self._maxsize and self._entries:
            entry = self._entries.pop()
            self._size -= ENTRY_OVERHEAD + PyBytes_GET_SIZE(entry[0]) + PyBytes_GET_SIZE(entry[1])
        if not self._entries:
            self._size = 0

    cdef void _add(self, bytes name, bytes value):
        cdef Py_ssize_t size = ENTRY_OVERHEAD + PyBytes_GET_SIZE(name) + PyBytes_GET_SIZE(value)
        if size > self._maxsize:
            self._entries.clear()
            self._size = 0
            return
        self._entries.appendleft((name, value))
        self._size += size
        self._shrink()

    cdef tuple _entry(self, Py_ssize_t index):
        cdef Py_ssize_t i = index - 1
        if 0 <= i < _STATIC_LEN:
            return <tuple>_STATIC[i]
        i -= _STATIC_LEN
        if 0 <= i < len(self._entries):
            return <tuple>self._entries[i]
        raise InvalidTableIndex("Invalid table index %d" % index)

    def decode(self, data, bint raw=False):
        """The header list of one complete block: (name, value) tuples of bytes (raw) or
        str (UTF-8)."""
        cdef bytes block = data if type(data) is bytes else bytes(data)
        cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(block)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(block)
        cdef Py_ssize_t pos = 0, index, inflated = 0
        cdef unsigned char first
        cdef list headers = []
        cdef tuple entry
        cdef bytes name, value
        cdef bint add
        while pos < n:
            first = p[pos]
            if first & 0x80:
                # indexed field
                index = _integer(p, n, &pos, 7)
                if index == 0:
                    raise HPACKDecodingError("Invalid table index 0")
                entry = self._entry(index)
                name = entry[0]
                value = entry[1]
            elif first & 0x40 or not first & 0x20:
                # literal: with incremental indexing (0x40), without (0x00), never (0x10)
                add = first & 0x40
                index = _integer(p, n, &pos, 6 if add else 4)
                if index:
                    name = self._entry(index)[0]
                else:
                    name = _string(p, n, &pos)
                value = _string(p, n, &pos)
                if add:
                    self._add(name, value)
            else:
                # dynamic table size update: only before the first field
                if headers:
                    raise HPACKDecodingError("Table size update not at the start of the block")
                index = _integer(p, n, &pos, 5)
                if index > self.max_allowed_table_size:
                    raise InvalidTableSizeError("Encoder exceeded max allowable table size")
                self._resize(index)
                continue
            inflated += ENTRY_OVERHEAD + PyBytes_GET_SIZE(name) + PyBytes_GET_SIZE(value)
            if inflated > self.max_header_list_size:
                raise OversizedHeaderListError(
                    f"A header list larger than {self.max_header_list_size} has been received"
                )
            headers.append((name, value))
        if self._maxsize > self.max_allowed_table_size:
            raise InvalidTableSizeError("Encoder did not shrink table size to within the max")
        if raw:
            return headers
        try:
            return [(h[0].decode("utf-8"), h[1].decode("utf-8")) for h in headers]
        except UnicodeDecodeError as err:
            raise HPACKDecodingError("Unable to decode headers as UTF-8") from err


cdef Py_ssize_t _integer(const unsigned char* p, Py_ssize_t n, Py_ssize_t* pos,
                         int prefix) except -1:
    """RFC 7541 §5.1 integer with an N-bit prefix at p[*pos]; advances *pos."""
    cdef Py_ssize_t i = pos[0]
    cdef Py_ssize_t mask = (1 << prefix) - 1
    cdef Py_ssize_t value = p[i] & mask
    cdef int shift = 0
    cdef unsigned char b
    i += 1
    if value == mask:
        while True:
            if i >= n:
                raise HPACKDecodingError("Unable to decode HPACK integer representation")
            if shift > INT_MAX_BITS - 7:
                # checked before the shift: 127 << 28 overflows a C int (it went negative)
                raise HPACKDecodingError("HPACK integer too large")
            b = p[i]
            i += 1
            value += (<Py_ssize_t>(b & 0x7F)) << shift
            shift += 7
            if not b & 0x80:
                break
    pos[0] = i
    return value


cdef bytes _string(const unsigned char* p, Py_ssize_t n, Py_ssize_t* pos):
    """RFC 7541 §5.2 string literal at p[*pos] (Huffman-coded or not); advances *pos."""
    cdef bint huffman
    cdef Py_ssize_t length, start
    if pos[0] >= n:
        raise HPACKDecodingError("Truncated header block")
    huffman = p[pos[0]] & 0x80
    length = _integer(p, n, pos, 7)
    start = pos[0]
    if length > n - start:
        raise HPACKDecodingError("Truncated header block")
    pos[0] = start + length
    if huffman:
        return _huffman_decode(p + start, length)
    return PyBytes_FromStringAndSize(<const char*>(p + start), length)


# --- encoder ----------------------------------------------------------------------------------

# static table lookups by str (request heads come as str pairs): full field, then name
cdef dict _STATIC_FIELD = {}
cdef dict _STATIC_NAME = {}
for _i in range(_STATIC_LEN - 1, -1, -1):
    _STATIC_FIELD[(_STATIC[_i][0].decode(), _STATIC[_i][1].decode())] = _i + 1
    _STATIC_NAME[_STATIC[_i][0].decode()] = _i + 1

# fields kept out of every HPACK table on the way (RFC 7541 §7.1.3), as hyper does
cdef frozenset _NEVER_INDEXED = frozenset({"authorization", "proxy-authorization", "cookie"})


cdef inline Py_ssize_t _put_int(unsigned char* out, Py_ssize_t value, int prefix,
                                unsigned char first) noexcept:
    """RFC 7541 §5.1 integer with an N-bit prefix, `first` holding the pattern bits; returns
    the bytes written (at most 1 + 5 for 31-bit values)."""
    cdef Py_ssize_t mask = (1 << prefix) - 1
    cdef Py_ssize_t k = 1
    if value < mask:
        out[0] = first | <unsigned char>value
        return 1
    out[0] = first | <unsigned char>mask
    value -= mask
    while value >= 0x80:
        out[k] = <unsigned char>((value & 0x7F) | 0x80)
        value >>= 7
        k += 1
    out[k] = <unsigned char>value
    return k + 1


cdef inline Py_ssize_t _put_str(unsigned char* out, const char* p, Py_ssize_t n) noexcept:
    cdef Py_ssize_t k = _put_int(out, n, 7, 0)
    memcpy(out + k, p, n)
    return k + n


cdef class Encoder:
    """Codes header lists into HPACK blocks; one per connection (see the module doc)."""

    cdef bint _started

    @property
    def header_table_size(self):
        return 0

    @header_table_size.setter
    def header_table_size(self, value):
        # the peer's decoder table may change size: ours stays 0, within any limit
        pass

    def encode(self, headers, huffman=True):
        """The block of `headers`: (name, value) pairs of str (UTF-8) or bytes, names
        lower-case. `huffman` is accepted and ignored."""
        cdef list items = headers if type(headers) is list else list(headers)
        cdef Py_ssize_t total = 1, n_name, n_value, k = 0
        cdef const char* p_name
        cdef const char* p_value
        cdef object name, value, index
        cdef unsigned char first
        cdef unsigned char* out
        # room: per field at most three 6-byte integers, a pattern byte and its strings
        for item in items:
            total += 20 + len(<object>item[0]) * 4 + len(<object>item[1]) * 4
        out = <unsigned char*>PyMem_Malloc(total)
        if out == NULL:
            raise MemoryError()
        try:
            if not self._started:
                self._started = True
                out[0] = 0x20  # dynamic table size update: 0
                k = 1
            for item in items:
                name = item[0]
                value = item[1]
                if type(name) is not str:
                    name = name.decode("latin-1")
                # (the static table's values are ASCII: a bytes value is looked up decoded)
                index = _STATIC_FIELD.get(
                    (name, value if type(value) is str else value.decode("latin-1")))
                if index is not None:
                    k += _put_int(out + k, index, 7, 0x80)
                    continue
                index = _STATIC_NAME.get(name)
                first = 0x10 if name in _NEVER_INDEXED else 0
                p_name = PyUnicode_AsUTF8AndSize(name, &n_name)
                if type(value) is str:
                    p_value = PyUnicode_AsUTF8AndSize(value, &n_value)
                else:
                    p_value = PyBytes_AS_STRING(value)
                    n_value = PyBytes_GET_SIZE(value)
                if index is not None:
                    k += _put_int(out + k, index, 4, first)
                else:
                    out[k] = first
                    k += 1
                    k += _put_str(out + k, p_name, n_name)
                k += _put_str(out + k, p_value, n_value)
            return PyBytes_FromStringAndSize(<char*>out, k)
        finally:
            PyMem_Free(out)


def qpack_literal_block(list pairs):
    """A QPACK field section of literal lines only (RFC 9204 §4.5.6: no table, no Huffman),
    which any QPACK decoder reads whatever the fields' size; `pairs`: (name, value) bytes.
    The integers and strings are coded as HPACK's are (QPACK takes them from RFC 7541)."""
    cdef Py_ssize_t total = 2, k = 2
    cdef bytes name, value
    cdef unsigned char* out
    for item in pairs:
        total += 12 + len(<bytes>item[0]) + len(<bytes>item[1])
    out = <unsigned char*>PyMem_Malloc(total)
    if out == NULL:
        raise MemoryError()
    try:
        out[0] = 0  # Required Insert Count 0
        out[1] = 0  # Base 0
        for item in pairs:
            name = <bytes>item[0]
            value = <bytes>item[1]
            k += _put_int(out + k, PyBytes_GET_SIZE(name), 3, 0x20)  # literal name, N=0 H=0
            memcpy(out + k, PyBytes_AS_STRING(name), PyBytes_GET_SIZE(name))
            k += PyBytes_GET_SIZE(name)
            k += _put_str(out + k, PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value))
        return PyBytes_FromStringAndSize(<char*>out, k)
    finally:
        PyMem_Free(out)
