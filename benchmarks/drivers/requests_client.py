"""requests adapter (sync only): one Session shared by the threads; no HTTP/2."""

from __future__ import annotations

from importlib.metadata import version as dist_version

import requests
from common import Config, Unsupported
from requests.adapters import HTTPAdapter


def version() -> str:
    return dist_version("requests")


async def open_client(cfg: Config) -> None:
    raise Unsupported("sync only")


class SyncSession:
    def __init__(self, cfg: Config) -> None:
        if cfg.http != 1:
            raise Unsupported("HTTP/1.1 only")
        self.s = requests.Session()
        adapter = HTTPAdapter(pool_maxsize=max(1, cfg.concurrency))
        self.s.mount("http://", adapter)
        self.s.mount("https://", adapter)
        self.verify = cfg.ca_path if cfg.tls else True
        if cfg.proxy:
            self.s.proxies = {"http": cfg.proxy, "https": cfg.proxy}

    def get(self, url: str) -> tuple[int, int]:
        r = self.s.get(url, verify=self.verify)
        return r.status_code, len(r.content)

    def close(self) -> None:
        self.s.close()


def open_sync_client(cfg: Config) -> SyncSession:
    return SyncSession(cfg)
