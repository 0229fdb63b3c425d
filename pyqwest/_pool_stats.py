"""PoolStats: a transport's connection pools, per route and HTTP version, on demand.

The pools keep plain counters (`cpqwest._pool.RouteStats`, increments only) on the route of
each connection; `pool_stats()` reads them with the idle and waiting counts of that moment.
Nothing here runs per request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cpqwest._pool import RouteStats

from ._version import HTTPVersion


@dataclass(frozen=True, slots=True)
class PoolStats:
    """The connections of one route (origin, and proxy if any) and HTTP version, as
    :meth:`HTTPTransport.pool_stats` and :meth:`SyncHTTPTransport.pool_stats` return them.

    The counters count since the transport was made; ``idle``, ``in_use`` and
    ``waiting_for_stream`` are the state of the moment. An HTTP/2 or HTTP/3 connection is in
    use while it carries a stream, idle otherwise.
    """

    #: ``scheme://host:port`` of the origin
    origin: str
    #: the proxy's URL (credentials hidden) when the route goes through one, else ``None``
    proxy: str | None
    #: the HTTP version of these connections
    http_version: HTTPVersion
    #: open connections waiting in the pool for a request
    idle: int
    #: open connections serving a request (HTTP/2 and HTTP/3: a stream) now
    in_use: int
    #: connections established
    opened: int
    #: requests sent on a connection that was already open (HTTP/2 and HTTP/3: streams on a
    #: connection opened before them)
    reused: int
    #: connections closed, for any reason
    closed: int
    #: connections closed by a failure (reset, timeout, protocol error, mid-request close)
    closed_by_error: int
    #: idle connections closed by the ``pool_idle_timeout``
    closed_by_idle_timeout: int
    #: requests waiting for an HTTP/2 (or HTTP/3) stream slot now
    waiting_for_stream: int = 0


def route_parts(key: tuple[Any, ...]) -> tuple[str, str | None]:
    """(origin, proxy URL or None) of a pool key (scheme, host, port[, Proxy])."""
    scheme, host, port = key[0], key[1], key[2]
    origin = f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"
    proxy = getattr(key[3], "_repr_url", None) if len(key) > 3 else None
    return origin, proxy


def collect(
    version: HTTPVersion,
    stats: Mapping[Any, RouteStats],
    idle: Mapping[Any, int],
    waiting: Mapping[Any, int] | None = None,
) -> Iterable[PoolStats]:
    """One PoolStats per route of `stats`, with the idle (and waiting) counts of now."""
    for key, s in list(stats.items()):
        n_idle = idle.get(key, 0)
        origin, proxy = route_parts(key)
        yield PoolStats(
            origin=origin,
            proxy=proxy,
            http_version=version,
            idle=n_idle,
            in_use=max(0, s.opened - s.closed - n_idle),
            opened=s.opened,
            reused=s.reused,
            closed=s.closed,
            closed_by_error=s.closed_error,
            closed_by_idle_timeout=s.closed_idle,
            waiting_for_stream=0 if waiting is None else waiting.get(key, 0),
        )


__all__ = ["PoolStats", "collect", "route_parts"]
