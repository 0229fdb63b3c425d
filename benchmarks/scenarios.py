"""The benchmark scenarios: what each one requests, over which listener, and how to check it.

Shared by the runner and the drivers (plain stdlib: drivers import it from every client venv).
"""

from __future__ import annotations

from dataclasses import dataclass

TINY_BODY = b"ok"  # 2 bytes: the response cost is all per-request overhead
BIG_SIZE = 1 << 20  # 1 MiB: the response cost is all byte moving
# /proto answers with a body whose *length* tells the protocol the server saw, so every driver can
# check it through the same byte count it already returns (no client-specific version attribute).
PROTO_LEN = {1: len(b"http/1"), 2: len(b"h2"), 3: len(b"h3-quic")}


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str  # the row label in the report
    listener: (
        str  # "plain" (h1), "tls" (h1 over TLS), "h2tls" (h2 via ALPN), "h2c" (prior knowledge),
        # "h3" (HTTP/3 over QUIC, prior knowledge)
    )
    path: str
    method: str = "GET"
    concurrency: int = 1
    upload: int = 0  # request body size
    expect: int = len(TINY_BODY)  # response body length every response must have
    stream: bool = False  # read the body chunk by chunk instead of buffered
    n: int = 3000  # default timed requests (the runner also caps each run's time)
    sync: bool = False  # a blocking client's scenario: `concurrency` threads, no event loop
    proxy: bool = False  # through the bench's local CONNECT proxy (tinyproxy): a pooled tunnel
    # a point of a `--scaling` series: (series, x), e.g. ("h1 connections", 256); never in the
    # default run
    scaling: tuple[str, int] | None = None

    @property
    def http(self) -> int:
        if self.listener == "h3":
            return 3
        return 2 if self.listener in ("h2tls", "h2c") else 1


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("get_tiny", "sequential GET, 2-byte body", "plain", "/tiny", n=4000),
        Scenario(
            "get_tiny_c64",
            "64 concurrent GETs, 2-byte body",
            "plain",
            "/tiny",
            concurrency=64,
            n=8000,
        ),
        Scenario(
            "get_1m", "sequential GET 1 MiB, buffered", "plain", "/1m", expect=BIG_SIZE, n=600
        ),
        Scenario(
            "post_1m",
            "sequential POST 1 MiB",
            "plain",
            "/upload",
            method="POST",
            upload=BIG_SIZE,
            n=600,
        ),
        Scenario("tls_h1", "HTTP/1.1 over TLS, sequential", "tls", "/tiny", n=4000),
        Scenario(
            "h2_tls_c64", "HTTP/2 over TLS, 64 concurrent", "h2tls", "/tiny", concurrency=64, n=8000
        ),
        Scenario(
            "h2c_c64", "h2c prior knowledge, 64 concurrent", "h2c", "/tiny", concurrency=64, n=8000
        ),
        Scenario("proxy_tls_tiny", "via CONNECT proxy: sequential GET over TLS", "tls", "/tiny",
                 proxy=True, n=3000),
        Scenario("h3_tiny", "HTTP/3, sequential GET", "h3", "/tiny", n=3000),
        Scenario("h3_tiny_c64", "HTTP/3, 64 concurrent", "h3", "/tiny", concurrency=64, n=8000),
        Scenario(
            "get_1m_stream",
            "sequential GET 1 MiB, streamed",
            "plain",
            "/1m",
            expect=BIG_SIZE,
            stream=True,
            n=600,
        ),
        # the sync clients (loop "sync"): threads share one client
        Scenario("sync_get_tiny", "sync: sequential GET, 2-byte body", "plain", "/tiny",
                 sync=True, n=4000),
        Scenario("sync_get_tiny_t8", "sync: 8 threads GET, 2-byte body", "plain", "/tiny",
                 concurrency=8, sync=True, n=8000),
        Scenario("sync_get_1m", "sync: sequential GET 1 MiB", "plain", "/1m", expect=BIG_SIZE,
                 sync=True, n=600),
        Scenario("sync_h2_tls_t8", "sync: HTTP/2 over TLS, 8 threads", "h2tls", "/tiny",
                 concurrency=8, sync=True, n=8000),
        Scenario("sync_proxy_tls_tiny", "sync: via CONNECT proxy, GET over TLS", "tls", "/tiny",
                 proxy=True, sync=True, n=3000),
        Scenario("sync_h3_tiny", "sync: HTTP/3, sequential GET", "h3", "/tiny", sync=True,
                 n=3000),
        Scenario("sync_h3_t8", "sync: HTTP/3, 8 threads", "h3", "/tiny", concurrency=8,
                 sync=True, n=8000),
    )
}


# `--scaling` (issue 18): cost per request and client memory against concurrency and body size.
CONCURRENCY_STEPS = (1, 16, 64, 256, 1024)
BODY_SIZES = (1 << 10, 16 << 10, 256 << 10, 1 << 20, 16 << 20, 64 << 20)
SERIES_H1, SERIES_H2, SERIES_BODY = "h1 connections", "h2 streams, one connection", "body bytes"


def _size_name(size: int) -> str:
    return f"{size >> 20}m" if size >= 1 << 20 else f"{size >> 10}k"


def _scaling() -> list[Scenario]:
    out = []
    # enough requests that each connection / stream serves several in the timed loop
    for c in CONCURRENCY_STEPS:
        out.append(Scenario(f"scale_h1_c{c}", f"scaling: HTTP/1.1, {c} connections", "plain",
                            "/tiny", concurrency=c, n=max(4000, 8 * c), scaling=(SERIES_H1, c)))
    for c in CONCURRENCY_STEPS:
        out.append(Scenario(f"scale_h2_s{c}", f"scaling: h2c, {c} streams on one connection",
                            "h2c", "/tiny", concurrency=c, n=max(4000, 8 * c),
                            scaling=(SERIES_H2, c)))
    for size in BODY_SIZES:
        name = _size_name(size)
        n = max(10, min(3000, (512 << 20) // size))  # at most ~512 MiB moved per run
        out.append(Scenario(f"scale_body_{name}", f"scaling: sequential GET, {name.upper()}iB body",
                            "plain", f"/bytes/{size}", expect=size, n=n,
                            scaling=(SERIES_BODY, size)))
    return out


SCENARIOS.update((s.name, s) for s in _scaling())
DEFAULT_SCENARIOS = [name for name, s in SCENARIOS.items() if s.scaling is None]
SCALING_SCENARIOS = [name for name, s in SCENARIOS.items() if s.scaling is not None]


def loops_for(scenario: str, loops: list[str]) -> list[str]:
    """The event loops a scenario runs on: the chosen ones, or "sync" for a sync scenario."""
    return ["sync"] if SCENARIOS[scenario].sync else loops
