"""HTTP/2 error codes: their texts (as the h2 crate words them, which reqwest shows), the
mapping of a failure to the spec's exception class and message (cpqwest._errors.classify),
and which failed requests may be sent again (API.md §0)."""

from __future__ import annotations

from cpqwest._errors import StreamError, classify

# The h2 crate's texts for each error code (what reqwest shows).
_REASONS = {
    0: "not a result of an error",
    1: "unspecific protocol error detected",
    2: "unexpected internal error encountered",
    3: "flow-control protocol violated",
    4: "settings ACK not received in timely manner",
    5: "received frame when stream half-closed",
    6: "frame with invalid size",
    7: "refused stream before processing any application logic",
    8: "stream no longer needed",
    9: "unable to maintain the header compression context",
    10: "connection established in response to a CONNECT request was reset or abnormally "
    "closed",
    11: "detected excessive load generating behavior",
    12: "security properties do not meet minimum requirements",
    13: "endpoint requires HTTP/1.1",
}
PROTOCOL_ERROR = 1
INTERNAL_ERROR = 2
REFUSED_STREAM = 7
CANCEL = 8


def reason(code: int) -> str:
    return _REASONS.get(code, f"unknown error code {code}")


def stream_error(code: int) -> StreamError:
    return StreamError(f"stream error received: {reason(code)}", code)


def mapped(cause: BaseException, prefix: str, default_cls: type[Exception]) -> BaseException:
    """The spec's class and message for a failure (API.md §1.1): the one classifier."""
    return classify(cause, prefix, default_cls)


# Why a failed stream may go again on a new connection (H2Stream.resend).
NOT_RESENDABLE = 0
# It failed on a reused connection before any response byte: perhaps a stale connection.
STALE = 1
# The server said it did not process it: above a GOAWAY's last-stream-id, or REFUSED_STREAM.
UNPROCESSED = 2


def may_resend(why: int, idempotent: bool, replayable_body: bool) -> bool:
    """Whether a request whose stream failed for `why` is sent once more (API.md §0): an
    unprocessed one whatever its method, a stale one only when idempotent; never with a
    streamed body, which cannot be replayed."""
    if why == UNPROCESSED:
        return replayable_body
    return why == STALE and idempotent and replayable_body
