"""The server x mode matrix the checks are parametrized over (ids like "nginx-h2-tls")."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pytest

from . import apache, caddy, h2o, nghttpd, nginx
from .features import Features

SERVERS: dict[str, Features] = {
    "nginx": nginx.FEATURES,
    "apache": apache.FEATURES,
    "caddy": caddy.FEATURES,
    "nghttpd": nghttpd.FEATURES,
    "h2o": h2o.FEATURES,
}
STARTERS: dict[str, Callable[[Any], Any]] = {
    "nginx": nginx.Nginx,
    "apache": apache.Apache,
    "caddy": caddy.Caddy,
    "nghttpd": nghttpd.Nghttpd,
    "h2o": h2o.H2o,
}

Select = Callable[[str, str, Features], bool]


def every(server: str, mode: str, features: Features) -> bool:
    """All targets."""
    return True


def h2(server: str, mode: str, features: Features) -> bool:
    """The HTTP/2 targets."""
    return mode in ("h2-tls", "h2c")


def targets(
    select: Select = every,
    *,
    xfail: Mapping[str, str] | None = None,
    xfail_sometimes: Mapping[str, str] | None = None,
) -> list[Any]:
    """One param per (server, mode) that `select` keeps. `xfail` maps ids (e.g. "apache-h2c")
    that fail every run, for a known reason, to that reason: xfail(strict), so a fix shows;
    `xfail_sometimes` those that fail only in some runs (a race): xfail, not strict."""
    strict, sometimes = xfail or {}, xfail_sometimes or {}
    params = []
    for server, features in SERVERS.items():
        for mode in features.modes:
            if not select(server, mode, features):
                continue
            ident = f"{server}-{mode}"
            marks = []
            if ident in strict:
                marks.append(pytest.mark.xfail(strict=True, reason=strict[ident]))
            elif ident in sometimes:
                marks.append(pytest.mark.xfail(strict=False, reason=sometimes[ident]))
            params.append(pytest.param((server, mode), id=ident, marks=marks))
    return params


def targets_each(values: Callable[[Features], Iterable[str]]) -> list[Any]:
    """One param per (server, mode) and each of `values(features)`: ids like
    "nginx-h1-br"."""
    return [
        pytest.param((server, mode), value, id=f"{server}-{mode}-{value}")
        for server, features in SERVERS.items()
        for mode in features.modes
        for value in values(features)
    ]
