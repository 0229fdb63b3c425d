"""urllib3 adapter (sync only): one PoolManager shared by the threads; no HTTP/2."""

from __future__ import annotations

from importlib.metadata import version as dist_version

import urllib3
from common import Config, Unsupported


def version() -> str:
    return dist_version("urllib3")


async def open_client(cfg: Config) -> None:
    raise Unsupported("sync only")


class SyncSession:
    def __init__(self, cfg: Config) -> None:
        if cfg.http != 1:
            raise Unsupported("HTTP/1.1 only (urllib3 2.x without its experimental h2 module)")
        # one kept-alive connection per thread, as the other clients keep them
        kw = {"maxsize": max(1, cfg.concurrency), "ca_certs": cfg.ca_path if cfg.tls else None}
        # a ProxyManager tunnels https through CONNECT and pools the tunnels per origin
        self.pool = (
            urllib3.ProxyManager(cfg.proxy, **kw) if cfg.proxy else urllib3.PoolManager(**kw)
        )

    def get(self, url: str) -> tuple[int, int]:
        r = self.pool.request("GET", url)
        return r.status, len(r.data)

    def close(self) -> None:
        self.pool.clear()


def open_sync_client(cfg: Config) -> SyncSession:
    return SyncSession(cfg)
