"""What every client adapter shares with the driver: its configuration and how it says "can't"."""

from __future__ import annotations

import ssl
from dataclasses import dataclass


class Unsupported(Exception):
    """The client cannot run this scenario (e.g. no HTTP/2): reported as n/a, not as a failure."""


@dataclass(frozen=True)
class Config:
    http: int  # 1, 2 or 3; 2 on a plain URL means h2c prior knowledge; 3 is QUIC prior knowledge
    tls: bool
    concurrency: int
    ca_path: str | None  # PEM file of the benchmark CA
    proxy: str | None = None  # http:// URL of a CONNECT proxy every request goes through

    @property
    def ca_pem(self) -> bytes:
        if self.ca_path is None:
            raise RuntimeError("this scenario needs --ca")
        with open(self.ca_path, "rb") as f:
            return f.read()

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_path)
