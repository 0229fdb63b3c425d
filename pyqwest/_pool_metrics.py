"""Pool statistics as OpenTelemetry observable instruments (a transport with OTel on).

Observed at each collection from `pool_stats()`; the callbacks hold the transport weakly, so
a meter provider that outlives it keeps no connection alive and reports nothing for it.

================================================  ==============  ==========================
instrument                                         unit            attributes beyond the route
================================================  ==============  ==========================
``http.client.open_connections`` (up-down)         {connection}    ``http.connection.state``:
                                                                   ``active`` or ``idle``
``http.client.connections.opened`` (counter)       {connection}
``http.client.connections.reused`` (counter)       {request}
``http.client.connections.closed`` (counter)       {connection}    ``pyqwest.close_reason``:
                                                                   ``error``,
                                                                   ``idle_timeout``, ``other``
``http.client.requests.waiting_for_stream``        {request}
(up-down)
================================================  ==============  ==========================

The route attributes are ``server.address``, ``server.port``, ``url.scheme`` and
``network.protocol.version`` (``1.1``, ``2``, ``3``), and ``pyqwest.proxy`` (the proxy's URL)
for a route through a proxy.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import Any

from ._pool_stats import PoolStats
from ._version import HTTPVersion

_VERSIONS = {HTTPVersion.HTTP1: "1.1", HTTPVersion.HTTP2: "2", HTTPVersion.HTTP3: "3"}


def observe_pools(meter_provider: Any, pool_stats: Callable[[], list[PoolStats]]) -> None:
    """Register the pool instruments on the meter of `meter_provider` (None: the global
    one) for the bound method `pool_stats` of a transport (held weakly)."""
    from opentelemetry import metrics
    from opentelemetry.metrics import Observation

    meter = metrics.get_meter("pyqwest", meter_provider=meter_provider)
    ref = weakref.WeakMethod(pool_stats)

    def records() -> list[tuple[dict[str, Any], PoolStats]]:
        method = ref()
        if method is None:
            return []
        return [(_attributes(s), s) for s in method()]

    def open_connections(_options: Any) -> Iterable[Observation]:
        for attrs, s in records():
            yield Observation(s.in_use, {**attrs, "http.connection.state": "active"})
            yield Observation(s.idle, {**attrs, "http.connection.state": "idle"})

    def opened(_options: Any) -> Iterable[Observation]:
        return [Observation(s.opened, attrs) for attrs, s in records()]

    def reused(_options: Any) -> Iterable[Observation]:
        return [Observation(s.reused, attrs) for attrs, s in records()]

    def closed(_options: Any) -> Iterable[Observation]:
        for attrs, s in records():
            other = s.closed - s.closed_by_error - s.closed_by_idle_timeout
            for reason, n in (("error", s.closed_by_error),
                              ("idle_timeout", s.closed_by_idle_timeout), ("other", other)):
                yield Observation(n, {**attrs, "pyqwest.close_reason": reason})

    def waiting(_options: Any) -> Iterable[Observation]:
        return [Observation(s.waiting_for_stream, attrs) for attrs, s in records()
                if s.http_version != HTTPVersion.HTTP1]

    counter, up_down = meter.create_observable_counter, meter.create_observable_up_down_counter
    for create, name, callback, unit, description in (
        (up_down, "http.client.open_connections", open_connections, "{connection}",
         "Number of outbound HTTP connections that are currently active or idle on the client."),
        (counter, "http.client.connections.opened", opened, "{connection}",
         "Number of HTTP connections the client established."),
        (counter, "http.client.connections.reused", reused, "{request}",
         "Number of requests sent on an HTTP connection that was already open."),
        (counter, "http.client.connections.closed", closed, "{connection}",
         "Number of HTTP connections the client closed, by reason."),
        (up_down, "http.client.requests.waiting_for_stream", waiting, "{request}",
         "Number of requests waiting for an HTTP/2 or HTTP/3 stream slot."),
    ):
        create(name, [callback], unit, description)


def _attributes(s: PoolStats) -> dict[str, Any]:
    scheme, _, rest = s.origin.partition("://")
    host, _, port = rest.rpartition(":")
    attrs: dict[str, Any] = {
        "server.address": host.strip("[]"),
        "server.port": int(port),
        "url.scheme": scheme,
        "network.protocol.version": _VERSIONS[s.http_version],
    }
    if s.proxy is not None:
        attrs["pyqwest.proxy"] = s.proxy
    return attrs


__all__ = ["observe_pools"]
