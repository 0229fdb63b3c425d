"""pyqwest-API adapter: drives the original pyqwest *and* ours (same import name and API; the venv
decides which one is imported), async and sync."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version

from common import Config

import pyqwest


def version() -> str:
    for dist in ("cpqwest", "pyqwest"):  # ours first: it is the one that shares the import name
        try:
            return f"{dist} {dist_version(dist)}"
        except PackageNotFoundError:
            continue
    return "unknown"


def _options(cfg: Config) -> dict:
    kw: dict = {}
    if cfg.tls:
        kw["tls_ca_cert"] = cfg.ca_pem
    # None lets TLS negotiate by ALPN; the h1-over-TLS listener offers only http/1.1 anyway.
    if cfg.proxy:
        kw["proxy"] = cfg.proxy
    kw["http_version"] = {2: pyqwest.HTTPVersion.HTTP2, 3: pyqwest.HTTPVersion.HTTP3}.get(cfg.http)
    return kw


def transport_for(cfg: Config) -> pyqwest.HTTPTransport:
    """The scenario's HTTPTransport (also under httpx, in httpx_pyqwest.py)."""
    return pyqwest.HTTPTransport(**_options(cfg))


class Session:
    def __init__(self, cfg: Config) -> None:
        self.transport = transport_for(cfg)
        self.c = pyqwest.Client(self.transport)

    async def get(self, url: str) -> tuple[int, int]:
        r = await self.c.get(url)
        return r.status, len(r.content)

    async def post(self, url: str, data: bytes) -> tuple[int, int]:
        r = await self.c.post(url, content=data)
        return r.status, len(r.content)

    async def stream(self, url: str) -> tuple[int, int]:
        n = 0
        async with self.c.stream("GET", url) as r:
            async for chunk in r.content:
                n += len(chunk)
            return r.status, n

    async def aclose(self) -> None:
        await self.transport.aclose()


async def open_client(cfg: Config) -> Session:
    return Session(cfg)


class SyncSession:
    """SyncClient over SyncHTTPTransport, shared by the scenario's threads."""

    def __init__(self, cfg: Config) -> None:
        self.transport = pyqwest.SyncHTTPTransport(**_options(cfg))
        self.c = pyqwest.SyncClient(self.transport)

    def get(self, url: str) -> tuple[int, int]:
        r = self.c.get(url)
        return r.status, len(r.content)

    def close(self) -> None:
        self.transport.close()


def open_sync_client(cfg: Config) -> SyncSession:
    return SyncSession(cfg)
