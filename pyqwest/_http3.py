"""HTTP/3 is the optional extra `cpqwest[http3]`: this module loads its package (`pyqwest._h3`,
on qh3) when a transport asks for HTTP/3 and makes the QUIC settings both transports use, so
the rest of pyqwest imports nothing of QUIC."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._tls import quic_roots

if TYPE_CHECKING:
    from ._h3.core import QuicCore
    from ._transport_core import TransportCore


def load() -> Any:
    """The HTTP/3 package; ValueError naming the extra when its QUIC library is missing."""
    try:
        from . import _h3
    except ImportError as exc:
        raise ValueError(
            "HTTP/3 needs the optional extra cpqwest[http3] (pip install 'cpqwest[http3]'): "
            f"{exc}"
        ) from exc
    return _h3


def quic_factory(
    transport: TransportCore, idle_timeout: float | None
) -> Callable[[str], QuicCore]:
    """What makes a transport's QUIC connections: a new `QuicCore` for a host. The handshake
    checks the roots the transport's TLS trusts and presents its identity; QUIC's idle timeout
    (0: none) is `pool_idle_timeout`, so a connection idle in the pool, or whose server
    stopped answering, closes on both ends."""
    h3 = load()
    _ca, key, cert, system_certs = transport._tls_options
    cadata, capath = quic_roots(transport._ssl, system_certs)
    tls = h3.TLSSettings(cadata, capath, cert, key)
    idle = idle_timeout or 0.0
    core: type[QuicCore] = h3.QuicCore

    def new_core(host: str) -> QuicCore:
        return core(host, tls, idle)

    return new_core
