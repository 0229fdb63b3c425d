"""Real proxy servers for the proxy tests, on 127.0.0.1 only, configs generated into a tmp dir:
tinyproxy (HTTP forward proxy and CONNECT, optional Basic auth) and microsocks (SOCKS5,
optional username/password). Both are Debian packages; `.ci/run` installs them when missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start listening on {port}")


class ProxyProcess:
    """A proxy server process on 127.0.0.1:`port`."""

    def __init__(self, argv: list[str], port: int, what: str) -> None:
        self.port = port
        self.what = what
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            _wait_listening(port, self.proc, what)
        except BaseException:
            self.stop()
            raise

    def url(self, scheme: str = "http", auth: str | None = None) -> str:
        cred = f"{auth}@" if auth else ""
        return f"{scheme}://{cred}127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def tinyproxy(tmp: Path, auth: tuple[str, str] | None = None) -> ProxyProcess:
    """tinyproxy in the foreground: forward proxy and CONNECT to any port on loopback."""
    exe = shutil.which("tinyproxy")
    if exe is None:
        raise RuntimeError("tinyproxy is not installed (apt-get install tinyproxy)")
    port = free_port()
    conf = tmp / f"tinyproxy-{port}.conf"
    lines = [
        f"Port {port}",
        "Listen 127.0.0.1",
        "Timeout 30",
        "MaxClients 64",
        "Allow 127.0.0.1",
        "DisableViaHeader Yes",
        f"LogFile \"{tmp / f'tinyproxy-{port}.log'}\"",
        "LogLevel Info",
    ]
    if auth is not None:
        lines.append(f"BasicAuth {auth[0]} {auth[1]}")
    conf.write_text("\n".join(lines) + "\n")
    return ProxyProcess([exe, "-d", "-c", str(conf)], port, "tinyproxy")


def microsocks(auth: tuple[str, str] | None = None) -> ProxyProcess:
    """microsocks: a SOCKS5 server (username/password required when `auth`)."""
    exe = shutil.which("microsocks")
    if exe is None:
        raise RuntimeError("microsocks is not installed (apt-get install microsocks)")
    port = free_port()
    argv = [exe, "-i", "127.0.0.1", "-p", str(port)]
    if auth is not None:
        argv += ["-u", auth[0], "-P", auth[1]]
    return ProxyProcess(argv, port, "microsocks")


def tls_front(host: str, port: int) -> Any:
    """A scripted-server handler that relays a (TLS) client connection to host:port and closes
    both sides as soon as either one ends: over TLS there is no half-close to pass on, and a
    proxy that closes after a response must look closed to the client. With a TLS scripted
    server this is an https:// proxy in front of tinyproxy."""

    async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError, asyncio.IncompleteReadError):
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()

    async def handler(conn: Any) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, port)
        tasks = [asyncio.ensure_future(pump(conn.reader, up_writer)),
                 asyncio.ensure_future(pump(up_reader, conn.writer))]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            up_writer.close()
            with contextlib.suppress(Exception):
                await up_writer.wait_closed()

    return handler
