"""httpx's AsyncClient over our transport (pyqwest.httpx.AsyncPyqwestTransport): what httpx users
get by swapping the transport, beside httpx with its own (httpx_client.py)."""

from __future__ import annotations

from importlib.metadata import version as dist_version

import httpx
from common import Config
from httpx_client import Session as HttpxSession
from pyqwest_api import transport_for

from pyqwest.httpx import AsyncPyqwestTransport


def version() -> str:
    return f"httpx {dist_version('httpx')} over cpqwest {dist_version('cpqwest')}"


class Session(HttpxSession):
    """httpx_client's session (same calls), with our transport under the AsyncClient."""

    def __init__(self, cfg: Config) -> None:
        self.transport = transport_for(cfg)
        self.c = httpx.AsyncClient(transport=AsyncPyqwestTransport(self.transport))

    async def aclose(self) -> None:
        await self.c.aclose()
        await self.transport.aclose()


async def open_client(cfg: Config) -> Session:
    return Session(cfg)
