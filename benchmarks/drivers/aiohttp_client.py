"""aiohttp adapter (HTTP/1.1 only)."""

from __future__ import annotations

from importlib.metadata import version as dist_version

import aiohttp
from common import Config, Unsupported


def version() -> str:
    return dist_version("aiohttp")


class Session:
    def __init__(self, cfg: Config) -> None:
        connector = aiohttp.TCPConnector(
            ssl=cfg.ssl_context() if cfg.tls else True, limit=max(100, cfg.concurrency)
        )
        self.s = aiohttp.ClientSession(connector=connector, proxy=cfg.proxy)

    async def get(self, url: str) -> tuple[int, int]:
        async with self.s.get(url) as r:
            return r.status, len(await r.read())

    async def post(self, url: str, data: bytes) -> tuple[int, int]:
        async with self.s.post(url, data=data) as r:
            return r.status, len(await r.read())

    async def stream(self, url: str) -> tuple[int, int]:
        n = 0
        async with self.s.get(url) as r:
            async for chunk in r.content.iter_any():
                n += len(chunk)
            return r.status, n

    async def aclose(self) -> None:
        await self.s.close()


async def open_client(cfg: Config) -> Session:
    if cfg.http != 1:
        raise Unsupported("aiohttp has no HTTP/2 client")
    return Session(cfg)
