"""What each interop server is configured to do, known at collection time (the checks are
parametrized from it) and written into its generated config."""

from __future__ import annotations

from dataclasses import dataclass

# mode -> (URL scheme, pyqwest http_version option, which listener of the server)
MODES = {
    "h1": ("http", "HTTP1", "plain"),
    "h1-tls": ("https", "HTTP1", "tls"),
    "h2-tls": ("https", None, "tls"),  # h2 chosen by ALPN
    "h2c": ("http", "HTTP2", "h2c"),  # prior knowledge
    "h3": ("https", "HTTP3", "tls"),  # QUIC, prior knowledge, on the TLS port's UDP twin
}


@dataclass(frozen=True)
class Features:
    """One server's modes and the behaviours its config sets up."""

    modes: tuple[str, ...]
    codings: tuple[str, ...] = ()
    etag: bool = True
    ranges: bool = True
    reload: bool = False
    # the server ends a connection after this many requests (HTTP/2: streams)
    max_requests: int | None = None
    # the server closes a connection idle this long (seconds)
    idle_timeout: float | None = None
    # SETTINGS_MAX_CONCURRENT_STREAMS the server announces
    max_streams: int | None = None
