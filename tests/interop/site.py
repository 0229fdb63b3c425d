"""What every interop server serves: a docroot of deterministic files, the TLS pair, and the
loopback echo backend that uploads are proxied to (the server under test receives them)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

# download sizes, each a file "<size>.bin"; LARGE is streamed and hashed, not buffered
DOWNLOAD_SIZES = (0, 1, 1000, 65537, 1 << 20, 5 << 20)
LARGE = 32 << 20
# a compressible text file: codings and Range apply to it
TEXT = "text.txt"


@dataclass(frozen=True)
class Site:
    """Paths and ports the server configs are generated from."""

    workdir: Path
    docroot: Path
    certfile: str
    keyfile: str
    echo_port: int


def blob(size: int) -> bytes:
    """The content of "<size>.bin": random bytes (incompressible), the same every run."""
    return random.Random(size).randbytes(size)


def text() -> bytes:
    """The content of TEXT: about 300 KiB of numbered lines."""
    return b"".join(b"line %06d: the quick brown fox jumps over the lazy dog\n" % i
                    for i in range(5000))


def fill_docroot(docroot: Path) -> None:
    """Write every file the checks fetch."""
    docroot.mkdir(parents=True, exist_ok=True)
    for size in (*DOWNLOAD_SIZES, LARGE):
        (docroot / f"{size}.bin").write_bytes(blob(size))
    (docroot / TEXT).write_bytes(text())
