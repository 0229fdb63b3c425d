"""Ours with OpenTelemetry on: the SDK's tracer provider with a span processor that exports to
nowhere, and a meter provider whose reader never collects, so the row prices what pyqwest
does per request (span, propagation, the two metrics), not an exporter's I/O. Beside the
"ours" row (no opentelemetry-api installed: OTel off), it gives the cost of OTel per request."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version as dist_version

from common import Config
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from pyqwest_api import Session as PlainSession
from pyqwest_api import SyncSession as PlainSyncSession
from pyqwest_api import _options

import pyqwest


class _Nowhere(SpanExporter):
    """Takes every finished span and drops it."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


_tracer_provider = TracerProvider()
_tracer_provider.add_span_processor(SimpleSpanProcessor(_Nowhere()))
_meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
_PROVIDERS = {"tracer_provider": _tracer_provider, "meter_provider": _meter_provider}


def version() -> str:
    return (f"cpqwest {dist_version('cpqwest')} + opentelemetry-sdk "
            f"{dist_version('opentelemetry-sdk')}")


class Session(PlainSession):
    """pyqwest_api's session (same calls) over an HTTPTransport with OTel on."""

    def __init__(self, cfg: Config) -> None:
        self.transport = pyqwest.HTTPTransport(**_options(cfg), **_PROVIDERS)
        self.c = pyqwest.Client(self.transport)


async def open_client(cfg: Config) -> Session:
    return Session(cfg)


class SyncSession(PlainSyncSession):
    """SyncClient over a SyncHTTPTransport with OTel on."""

    def __init__(self, cfg: Config) -> None:
        self.transport = pyqwest.SyncHTTPTransport(**_options(cfg), **_PROVIDERS)
        self.c = pyqwest.SyncClient(self.transport)


def open_sync_client(cfg: Config) -> SyncSession:
    return SyncSession(cfg)
