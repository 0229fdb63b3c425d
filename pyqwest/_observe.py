"""Logging (spec §3.8) and OpenTelemetry (§3.7) of logical requests, for both transports.

One `Watch` follows one logical request (its redirect hops included, as the original, whose
engine follows them internally): `outgoing` gives the headers to send (propagation injected),
`response` records the final head, `end` closes the span and records the metrics. The
transports make a Watch only when `watching(telemetry)` says someone listens, so with OTel
off and the loggers above DEBUG a request pays two logger-level checks and nothing else;
`opentelemetry` is imported only by a transport that has `enable_otel` on.
"""

from __future__ import annotations

import logging
import time
from http import HTTPStatus
from typing import Any

from ._headers import Headers
from ._response import ResponseBase
from ._url import ParsedURL
from ._version import HTTPVersion

logger = logging.getLogger("pyqwest")
access_logger = logging.getLogger("pyqwest.access")
_WATCHED = (logger, access_logger)  # either at DEBUG: every request is watched
_DEBUG = logging.DEBUG

_REASONS = {int(s): s.phrase for s in HTTPStatus}
_OTEL_VERSIONS = {HTTPVersion.HTTP1: "1.1", HTTPVersion.HTTP2: "2", HTTPVersion.HTTP3: "3"}
# the buckets OTel's HTTP semantic conventions advise for http.client.request.duration
_DURATION_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)


def reason_phrase(status: int) -> str:
    """The canonical reason phrase of a status code ("" for codes without one): the same
    text on HTTP/1.1 and HTTP/2, which carries none."""
    return _REASONS.get(status, "")


class Telemetry:
    """A transport's tracer and the two HTTP client metrics (spec §3.7)."""

    __slots__ = ("_active", "_duration", "_inject", "_kind", "_set_span", "_status_error",
                 "_tracer")

    def __init__(self, tracer_provider: Any, meter_provider: Any) -> None:
        from opentelemetry import metrics, propagate, trace

        self._tracer = trace.get_tracer("pyqwest", tracer_provider=tracer_provider)
        meter = metrics.get_meter("pyqwest", meter_provider=meter_provider)
        self._active = meter.create_up_down_counter(
            "http.client.active_requests", "{request}", "Number of active HTTP requests."
        )
        self._duration = meter.create_histogram(
            "http.client.request.duration", "s", "Duration of HTTP client requests.",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self._kind = trace.SpanKind.CLIENT
        self._set_span = trace.set_span_in_context
        self._inject = propagate.inject
        self._status_error = trace.Status(trace.StatusCode.ERROR)


def telemetry(enable_otel: bool, tracer_provider: Any, meter_provider: Any) -> Telemetry | None:
    """The transport's Telemetry: None when `enable_otel` is off or opentelemetry-api is not
    installed (then nothing of it is imported, now or later)."""
    if not enable_otel:
        return None
    try:
        return Telemetry(tracer_provider, meter_provider)
    except ImportError:
        return None


def watching(telemetry: Telemetry | None) -> bool:
    """Whether a request must be watched: OTel on, or either logger at DEBUG."""
    if telemetry is not None:
        return True
    for log in _WATCHED:
        # Logger.isEnabledFor's answer from its own cache, without its call (every request
        # asks; on a miss, or a disabled logger, it is asked itself)
        on = log._cache.get(_DEBUG)  # type: ignore[attr-defined]
        if on is None or log.disabled:
            on = log.isEnabledFor(_DEBUG)
        if on:
            return True
    return False


class Watch:
    """One logical request under observation: its log records, span and metrics."""

    __slots__ = ("_attrs", "_ctx", "_method", "_span", "_start", "_telemetry", "_url",
                 "_version", "status")

    def __init__(self, telemetry: Telemetry | None, method: str, parsed: ParsedURL) -> None:
        self._telemetry = telemetry
        self._method = method
        self._url = parsed.href
        self._version: HTTPVersion | None = None
        self.status = 0  # of the final response, once its head arrived
        logger.debug("Sending HTTP request: %s %s", method, self._url)
        self._span: Any = None
        if telemetry is None:
            return
        attrs: dict[str, Any] = {
            "http.request.method": method,
            "server.address": parsed.host,
            "server.port": parsed.port,
        }
        self._attrs = attrs
        span = self._span = telemetry._tracer.start_span(
            method, kind=telemetry._kind,
            attributes={**attrs, "network.protocol.name": "http", "url.full": self._url},
        )
        self._ctx = telemetry._set_span(span)
        telemetry._active.add(1, attrs, context=self._ctx)
        self._start = time.perf_counter()

    def outgoing(self, headers: Headers | None) -> Headers | None:
        """The headers to send: the caller's, or (OTel on) a copy with the trace context and
        baggage the global propagator injects. The caller's Headers are never changed."""
        if self._span is None:
            return headers
        carrier = Headers() if headers is None else Headers._from_wire(headers._wire_pairs())
        assert self._telemetry is not None
        self._telemetry._inject(carrier, context=self._ctx)
        return carrier

    def response(self, version: HTTPVersion, status: int) -> None:
        """The final response head arrived: the access record, the span's response
        attributes."""
        self._version = version
        self.status = status
        access_logger.debug(
            'HTTP Request: %s %s "%s %d %s"', self._method, self._url, str(version), status,
            reason_phrase(status),
        )
        span = self._span
        if span is not None:
            span.set_attribute("network.protocol.version", _OTEL_VERSIONS[version])
            span.set_attribute("http.response.status_code", status)

    def at_head(self, response: ResponseBase) -> None:
        """A streamed request is over at its head: record it and end the span."""
        self.response(response.http_version, response.status)
        self.end()

    def end(self, exc: BaseException | None = None) -> None:
        """The request is over (streamed: at its head; buffered: after its body), or failed
        with `exc`. A failure before any response is logged on `pyqwest`, never on access."""
        if exc is not None and self._version is None:
            logger.debug("HTTP request failed: %s %s (%r)", self._method, self._url, exc)
        span = self._span
        if span is None:
            return
        self._span = None
        telemetry = self._telemetry
        assert telemetry is not None
        ctx = self._ctx
        elapsed = time.perf_counter() - self._start
        attrs: dict[str, Any] = self._attrs
        telemetry._active.add(-1, attrs, context=ctx)
        attrs = {**attrs, "network.protocol.name": "http"}
        if self._version is not None:
            attrs["network.protocol.version"] = _OTEL_VERSIONS[self._version]
            attrs["http.response.status_code"] = self.status
        if exc is not None:
            error_type = type(exc).__qualname__
            span.set_attribute("error.type", error_type)
            span.set_status(telemetry._status_error)
            attrs["error.type"] = error_type
        telemetry._duration.record(elapsed, attrs, context=ctx)
        span.end()
