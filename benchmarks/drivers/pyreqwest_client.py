"""pyreqwest adapter: (Sync)ClientBuilder -> (Sync)Client; requests via builders,
`.build().send()`."""

from __future__ import annotations

from importlib.metadata import version as dist_version

from common import Config, Unsupported
from pyreqwest.client import ClientBuilder, SyncClientBuilder
from pyreqwest.proxy import ProxyBuilder


def version() -> str:
    return dist_version("pyreqwest")


def _configured(b, cfg: Config):
    if cfg.tls:
        b = b.add_root_certificate_pem(cfg.ca_pem)
    if cfg.http == 3:
        raise Unsupported("no HTTP/3 in its builder")
    if cfg.http == 2:
        # HTTP/1 is its default; over TLS, ALPN with h2 enabled; on plain text, prior knowledge
        b = b.http2(True) if cfg.tls else b.http2_prior_knowledge()
    if cfg.proxy:
        b = b.proxy(ProxyBuilder.all(cfg.proxy))
    return b


class Session:
    def __init__(self, cfg: Config) -> None:
        self.c = _configured(ClientBuilder(), cfg).build()

    async def get(self, url: str) -> tuple[int, int]:
        r = await self.c.get(url).build().send()
        return r.status, len(await r.bytes())

    async def post(self, url: str, data: bytes) -> tuple[int, int]:
        r = await self.c.post(url).body_bytes(data).build().send()
        return r.status, len(await r.bytes())

    async def stream(self, url: str) -> tuple[int, int]:
        n = 0
        async with self.c.get(url).build_streamed() as r:
            reader = r.body_reader
            while (chunk := await reader.read_chunk()) is not None:
                n += len(chunk)
            return r.status, n

    async def aclose(self) -> None:
        await self.c.close()


async def open_client(cfg: Config) -> Session:
    return Session(cfg)


class SyncSession:
    def __init__(self, cfg: Config) -> None:
        self.c = _configured(SyncClientBuilder(), cfg).build()

    def get(self, url: str) -> tuple[int, int]:
        r = self.c.get(url).build().send()
        return r.status, len(r.bytes())

    def close(self) -> None:
        self.c.close()


def open_sync_client(cfg: Config) -> SyncSession:
    return SyncSession(cfg)
