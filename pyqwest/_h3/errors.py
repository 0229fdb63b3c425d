"""HTTP/3 error codes (RFC 9114 §8.1, RFC 9204 §6) and the nearest `StreamErrorCode` for each,
so a reset stream raises the same `StreamError` an HTTP/2 one does (API.md §1.1)."""

from __future__ import annotations

from cpqwest._errors import StreamErrorCode as Code

H3_NO_ERROR = 0x100
H3_INTERNAL_ERROR = 0x102
H3_REQUEST_CANCELLED = 0x10C
H3_MESSAGE_ERROR = 0x10E

_NEAREST = {
    H3_NO_ERROR: Code.NO_ERROR,
    0x101: Code.PROTOCOL_ERROR,  # H3_GENERAL_PROTOCOL_ERROR
    H3_INTERNAL_ERROR: Code.INTERNAL_ERROR,
    0x103: Code.PROTOCOL_ERROR,  # H3_STREAM_CREATION_ERROR
    0x104: Code.STREAM_CLOSED,  # H3_CLOSED_CRITICAL_STREAM
    0x105: Code.PROTOCOL_ERROR,  # H3_FRAME_UNEXPECTED
    0x106: Code.FRAME_SIZE_ERROR,  # H3_FRAME_ERROR
    0x107: Code.ENHANCE_YOUR_CALM,  # H3_EXCESSIVE_LOAD
    0x108: Code.PROTOCOL_ERROR,  # H3_ID_ERROR
    0x109: Code.PROTOCOL_ERROR,  # H3_SETTINGS_ERROR
    0x10A: Code.PROTOCOL_ERROR,  # H3_MISSING_SETTINGS
    0x10B: Code.REFUSED_STREAM,  # H3_REQUEST_REJECTED: not processed, may be retried
    H3_REQUEST_CANCELLED: Code.CANCEL,
    0x10D: Code.PROTOCOL_ERROR,  # H3_REQUEST_INCOMPLETE
    H3_MESSAGE_ERROR: Code.PROTOCOL_ERROR,
    0x10F: Code.CONNECT_ERROR,  # H3_CONNECT_ERROR
    0x110: Code.HTTP_1_1_REQUIRED,  # H3_VERSION_FALLBACK
    0x200: Code.COMPRESSION_ERROR,  # QPACK_DECOMPRESSION_FAILED
    0x201: Code.COMPRESSION_ERROR,  # QPACK_ENCODER_STREAM_ERROR
    0x202: Code.COMPRESSION_ERROR,  # QPACK_DECODER_STREAM_ERROR
}

# What we send for the HTTP/2 codes the shared stream logic resets with.
_FROM_H2 = {
    Code.CANCEL: H3_REQUEST_CANCELLED,
    Code.INTERNAL_ERROR: H3_INTERNAL_ERROR,
    Code.PROTOCOL_ERROR: H3_MESSAGE_ERROR,
}


def nearest(h3_code: int) -> Code:
    """The StreamErrorCode closest to an HTTP/3 code; unknown (and reserved, RFC 9114 §8.1)
    codes are INTERNAL_ERROR."""
    return _NEAREST.get(h3_code, Code.INTERNAL_ERROR)


def h3_code(h2_code: int) -> int:
    """The HTTP/3 code for a reset the shared stream logic asks for in HTTP/2 terms."""
    return _FROM_H2.get(Code(h2_code), H3_INTERNAL_ERROR)
