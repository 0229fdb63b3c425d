"""A server process of the interop suite: started from a generated config, ready once its
ports accept connections, stopped (and its children with it) at the end of the session."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

START_TIMEOUT = 20.0


def free_port() -> int:
    """A loopback TCP port nobody listens on (the daemon binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require(binary: str, package: str) -> str:
    """The path of `binary`, or skip: `.ci/run` installs the Debian package `package`."""
    path = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/bin")
    if path is None:
        pytest.skip(f"{binary} not installed (apt-get install {package}; .ci/run does)")
    return path


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Daemon:
    """One server process, in its own process group (so stop() reaches its workers)."""

    def __init__(self, name: str, argv: Sequence[str], workdir: Path, ports: Sequence[int],
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.workdir = workdir
        self.log = workdir / f"{name}.out"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                list(argv), cwd=workdir, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        for port in ports:
            while not _accepts(port):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"{name} did not start: {self.tail()}")
                time.sleep(0.05)

    def tail(self, lines: int = 20) -> str:
        """The end of what the daemon printed, and of the logs in its directory."""
        texts = []
        for path in sorted(self.workdir.glob("*.out")) + sorted(self.workdir.glob("*.log")):
            with contextlib.suppress(OSError):
                texts.append(f"--- {path.name}\n" + "\n".join(
                    path.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(texts)

    def signal(self, sig: signal.Signals) -> None:
        """Send `sig` to the daemon's main process (e.g. SIGHUP: reload)."""
        self.proc.send_signal(sig)

    def stop(self) -> None:
        """Terminate the process group; kill it if it lingers."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        # workers that outlived their master (same group)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)


class Server:
    """A server of the matrix run by one Daemon: `ports` maps listener ("plain", "tls",
    "h2c") to port."""

    daemon: Daemon
    ports: dict[str, int]

    def reload(self) -> None:
        """Graceful reload: new config, old connections drained."""
        raise NotImplementedError

    def stop(self) -> None:
        self.daemon.stop()
