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
        Scenario("sync_h3_tiny", "sync: HTTP/3, sequential GET", "h3", "/tiny", sync=True,
                 n=3000),
        Scenario("sync_h3_t8", "sync: HTTP/3, 8 threads", "h3", "/tiny", concurrency=8,
                 sync=True, n=8000),
    )
}


def loops_for(scenario: str, loops: list[str]) -> list[str]:
    """The event loops a scenario runs on: the chosen ones, or "sync" for a sync scenario."""
    return ["sync"] if SCENARIOS[scenario].sync else loops
