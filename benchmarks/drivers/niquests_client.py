"""niquests adapter (its sync Session; HTTP/2 by ALPN over TLS, which it negotiates itself)."""

from __future__ import annotations

from importlib.metadata import version as dist_version

import niquests
from common import Config, Unsupported


def version() -> str:
    return dist_version("niquests")


async def open_client(cfg: Config) -> None:
    raise Unsupported("measured on the sync scenarios")


class SyncSession:
    def __init__(self, cfg: Config) -> None:
        if cfg.http == 2 and not cfg.tls:
            raise Unsupported("no h2c prior knowledge")
        self.s = niquests.Session(
            pool_maxsize=max(1, cfg.concurrency),
            disable_http2=cfg.http == 1,
            disable_http3=True,
        )
        self.verify = cfg.ca_path if cfg.tls else True

    def get(self, url: str) -> tuple[int, int]:
        r = self.s.get(url, verify=self.verify)
        return r.status_code, len(r.content or b"")

    def close(self) -> None:
        self.s.close()


def open_sync_client(cfg: Config) -> SyncSession:
    return SyncSession(cfg)
