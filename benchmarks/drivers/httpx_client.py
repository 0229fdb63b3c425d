"""httpx adapter (HTTP/2 through its h2 extra), AsyncClient and Client."""

from __future__ import annotations

from importlib.metadata import version as dist_version

import httpx
from common import Config, Unsupported


def version() -> str:
    return f"{dist_version('httpx')} (h2 {dist_version('h2')})"


def _options(cfg: Config) -> dict:
    # h2c needs prior knowledge: http1=False; over TLS ALPN picks h2 when http2=True.
    if cfg.http == 3:
        raise Unsupported("no HTTP/3")
    return {
        "verify": cfg.ssl_context() if cfg.tls else True,
        "http1": cfg.http == 1,
        "http2": cfg.http == 2,
        # keep every connection alive as the other clients do: httpx's default keeps only
        # 20 idle, so 64 workers would reconnect on most requests and we'd measure connects
        "limits": httpx.Limits(
            max_connections=max(100, cfg.concurrency),
            max_keepalive_connections=max(20, cfg.concurrency),
        ),
        "proxy": cfg.proxy,
    }


class Session:
    def __init__(self, cfg: Config) -> None:
        self.c = httpx.AsyncClient(**_options(cfg))

    async def get(self, url: str) -> tuple[int, int]:
        r = await self.c.get(url)
        return r.status_code, len(r.content)

    async def post(self, url: str, data: bytes) -> tuple[int, int]:
        r = await self.c.post(url, content=data)
        return r.status_code, len(r.content)

    async def stream(self, url: str) -> tuple[int, int]:
        n = 0
        async with self.c.stream("GET", url) as r:
            async for chunk in r.aiter_raw():
                n += len(chunk)
            return r.status_code, n

    async def aclose(self) -> None:
        await self.c.aclose()


async def open_client(cfg: Config) -> Session:
    return Session(cfg)


class SyncSession:
    def __init__(self, cfg: Config) -> None:
        self.c = httpx.Client(**_options(cfg))

    def get(self, url: str) -> tuple[int, int]:
        r = self.c.get(url)
        return r.status_code, len(r.content)

    def close(self) -> None:
        self.c.close()


def open_sync_client(cfg: Config) -> SyncSession:
    return SyncSession(cfg)
