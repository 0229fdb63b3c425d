"""Run an ASGI app under hypercorn on a :class:`LoopThread`, bound to an ephemeral loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Iterator
from typing import Any

from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config, Sockets
from hypercorn.utils import wrap_app

from .loop_thread import LoopThread


class HypercornServer:
    """An ASGI app served by hypercorn (HTTP/1.1 on plaintext; h2 + http/1.1 ALPN on TLS).

    ``certfile``/``keyfile`` enable TLS; ``ca_certs`` + ``require_client_cert`` make it mTLS;
    ``quic`` also serves HTTP/3 (aioquic) on the same port number over UDP; ``mode="wsgi"``
    serves a WSGI app.
    """

    def __init__(
        self,
        loop_thread: LoopThread,
        app: Any,
        *,
        host: str = "127.0.0.1",
        certfile: str | None = None,
        keyfile: str | None = None,
        ca_certs: str | None = None,
        require_client_cert: bool = False,
        alpn_protocols: list[str] | None = None,
        quic: bool = False,
        mode: str = "asgi",
    ) -> None:
        self._loop_thread = loop_thread
        self.host = host
        self.tls = certfile is not None
        config = Config()
        config.keep_alive_timeout = 30
        config.graceful_timeout = 1
        config.accesslog = None
        config.errorlog = logging.getLogger("tests.hypercorn")
        config.h2_max_concurrent_streams = 1000
        if certfile is not None:
            config.certfile = certfile
            config.keyfile = keyfile
            if alpn_protocols is not None:
                config.alpn_protocols = alpn_protocols
            if ca_certs is not None:
                config.ca_certs = ca_certs
            if require_client_cert:
                config.verify_mode = ssl.CERT_REQUIRED
        self.config = config

        self._quic = quic
        self.port = 0
        self._bind_sockets()
        self._shutdown: asyncio.Event | None = None
        if quic and mode == "asgi":
            app = _quiet_after_reset(app)
        self._app = wrap_app(app, config.wsgi_max_body_size, mode)  # type: ignore[arg-type]
        self._task: asyncio.Future[None] | None = None
        self._quic_tasks: list[asyncio.Task[Any]] = []

    def _bind_sockets(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock, udp = _bind(family, self.host, self._quic)
        self.port = sock.getsockname()[1]
        self._sockets = Sockets(
            secure_sockets=[sock] if self.tls else [],
            insecure_sockets=[] if self.tls else [sock],
            quic_sockets=[udp] if udp is not None else [],
        )

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """Base URL without trailing slash, e.g. ``http://127.0.0.1:12345``."""
        return f"{self.scheme}://{self.netloc}"

    def url_for(self, path: str, host: str | None = None) -> str:
        netloc = f"{host}:{self.port}" if host is not None else self.netloc
        return f"{self.scheme}://{netloc}{path}"

    def start(self) -> HypercornServer:
        async def _start() -> None:
            self._shutdown = asyncio.Event()
            before = asyncio.all_tasks()
            self._task = asyncio.ensure_future(
                worker_serve(
                    self._app,
                    self.config,
                    sockets=self._sockets,
                    shutdown_trigger=self._shutdown.wait,
                )
            )
            await asyncio.sleep(0.05)
            if self._task.done():
                self._task.result()
            # hypercorn runs its QUIC side as a task of its own: when it dies, the TCP side
            # serves on and datagrams queue unanswered (ensure_running watches it)
            self._quic_tasks = [
                t for t in asyncio.all_tasks() - before
                if t.get_coro().__qualname__ == "UDPServer.run"  # type: ignore[union-attr]
            ]

        self._loop_thread.run(_start())
        return self

    def ensure_running(self) -> BaseException | None:
        """Start the server again, on new ports, if it stopped by itself (an error inside one
        QUIC connection ends hypercorn's whole QUIC task group); what stopped it, or None."""

        async def ended() -> BaseException | None:
            for task in [self._task, *self._quic_tasks]:
                if task is not None and task.done():
                    break
            else:
                return None
            cause = (asyncio.CancelledError() if task.cancelled() else task.exception()
                     or RuntimeError("the serve task returned"))
            if self._task is not None and not self._task.done():
                assert self._shutdown is not None
                self._shutdown.set()  # the TCP side too: all starts again on new ports
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(self._task, 10)
            return cause

        cause = self._loop_thread.run(ended(), timeout=20)
        if cause is not None:
            self._bind_sockets()
            self.start()
        return cause

    def stop(self) -> None:
        async def _stop() -> None:
            assert self._shutdown is not None and self._task is not None
            self._shutdown.set()
            try:
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(self._task, 10)
            except* (ValueError, RuntimeError) as group:
                # at shutdown hypercorn answers the apps it cancels with a 500 of its own, on
                # streams the client reset, and its QUIC task group re-raises that
                _, rest = group.split(lambda e: any(words in str(e) for words in _GONE))
                if rest is not None:
                    raise rest from None

        if self._task is not None:
            self._loop_thread.run(_stop(), timeout=20)


# what hypercorn's HTTP/3 raises when the app sends on a stream the client reset or finished
_GONE = ("finished stream", "stream was reset", "not allowed in this state")


def _quiet_after_reset(app: Any) -> Any:
    """`app`, whose sends on a stream the client already reset (a cancelled or closed request)
    are dropped: hypercorn's HTTP/3 raises those into the app, and an app that lets them out
    ends hypercorn's whole QUIC task group, so every later test would find no server."""

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        gone = False

        async def send_unless_gone(message: Any) -> None:
            nonlocal gone
            if gone:
                return
            try:
                await send(message)
            except Exception as exc:  # ValueError, RuntimeError, aioquic's FrameUnexpected
                if not any(words in str(exc) for words in _GONE):
                    raise
                gone = True

        await app(scope, receive, send_unless_gone)

    return guarded


def _bind(family: int, host: str, quic: bool) -> tuple[socket.socket, socket.socket | None]:
    """A listening TCP socket on an ephemeral port, and with ``quic`` a UDP socket on the same
    port number (a few tries: the UDP port may be taken)."""
    for _ in range(20):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, 0))
        sock.listen(128)  # connections queue from now on, even before the server task runs
        sock.setblocking(False)
        if not quic:
            return sock, None
        udp = socket.socket(family, socket.SOCK_DGRAM)
        try:
            udp.bind((host, sock.getsockname()[1]))
        except OSError:
            udp.close()
            sock.close()
            continue
        udp.setblocking(False)
        return sock, udp
    raise OSError("no port free for both TCP and UDP")


@contextlib.contextmanager
def serving(
    loop_thread: LoopThread, app: Any, tls: dict[str, str] | None = None, **options: Any
) -> Iterator[HypercornServer]:
    """A started server, stopped on exit (the body of a server fixture). `tls`, the
    `server_cert_files` dict, serves TLS with its certfile and keyfile."""
    if tls is not None:
        options.update(certfile=tls["certfile"], keyfile=tls["keyfile"])
    server = HypercornServer(loop_thread, app, **options).start()
    try:
        yield server
    finally:
        server.stop()
