"""HTTP/3 over QUIC (the optional extra `cpqwest[http3]`, on qh3).

`QuicCore` (core.py) is the sans-IO QUIC + HTTP/3 state of one connection; `H3Connection`
(connection.py) drives it over an asyncio UDP endpoint; each request is an `H3Stream`
(stream.py), which shares the HTTP/2 stream's exchange logic; errors.py maps HTTP/3 error codes.
Connections are pooled by the multiplexed-connection pool HTTP/2 uses (`H2Pools`).
"""

from .connection import H3Connection, open_h3
from .core import QuicCore, TLSSettings

__all__ = ["H3Connection", "QuicCore", "TLSSettings", "open_h3"]
