"""niquests adapter: HTTP/3 on the async scenarios (its http3 extra: qh3 under urllib3-future), its
sync Session on the sync ones (HTTP/2 by ALPN over TLS, which it negotiates itself; HTTP/3 with
prior knowledge)."""

from __future__ import annotations

from importlib.metadata import version as dist_version
from urllib.parse import urlsplit

import niquests
from common import Config, Unsupported


def version() -> str:
    return f"{dist_version('niquests')} (qh3 {dist_version('qh3')})"


class Session:
    def __init__(self, cfg: Config) -> None:
        if cfg.http != 3:
            raise Unsupported("niquests is measured on HTTP/3 only")
        self.s = niquests.AsyncSession(
            disable_http1=True, disable_http2=True, pool_maxsize=max(10, cfg.concurrency)
        )
        # per request: a session-wide `verify` does not reach its QUIC connections
        self.verify = cfg.ca_path
        self._known: set[tuple[str, int]] = set()

    def _prior_knowledge(self, url: str) -> None:
        """The origin serves HTTP/3 on its own port: no Alt-Svc round over TCP first."""
        parts = urlsplit(url)
        origin = (parts.hostname or "", parts.port or 443)
        if origin not in self._known:
            self._known.add(origin)
            self.s.quic_cache_layer.add_domain(*origin)

    async def get(self, url: str) -> tuple[int, int]:
        self._prior_knowledge(url)
        r = await self.s.get(url, verify=self.verify)
        return r.status_code, len(r.content or b"")

    async def post(self, url: str, data: bytes) -> tuple[int, int]:
        self._prior_knowledge(url)
        r = await self.s.post(url, data=data, verify=self.verify)
        return r.status_code, len(r.content or b"")

    async def stream(self, url: str) -> tuple[int, int]:
        raise Unsupported("streamed reads are not measured with niquests")

    async def aclose(self) -> None:
        await self.s.close()


async def open_client(cfg: Config) -> Session:
    return Session(cfg)


class SyncSession:
    def __init__(self, cfg: Config) -> None:
        if cfg.http == 2 and not cfg.tls:
            raise Unsupported("no h2c prior knowledge")
        h3 = cfg.http == 3
        self.s = niquests.Session(
            pool_maxsize=max(1, cfg.concurrency),
            disable_http1=h3,
            disable_http2=cfg.http != 2,
            disable_http3=not h3,
        )
        self.verify = cfg.ca_path if cfg.tls else True
        if cfg.proxy:
            self.s.proxies = {"http": cfg.proxy, "https": cfg.proxy}
        self._known: set[tuple[str, int]] = set()

    _prior_knowledge = Session._prior_knowledge

    def get(self, url: str) -> tuple[int, int]:
        self._prior_knowledge(url)
        r = self.s.get(url, verify=self.verify)
        return r.status_code, len(r.content or b"")

    def close(self) -> None:
        self.s.close()


def open_sync_client(cfg: Config) -> SyncSession:
    return SyncSession(cfg)
