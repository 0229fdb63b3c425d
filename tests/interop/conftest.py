"""Fixtures of the interop suite: the site (docroot, TLS pair, echo backend), each real server
started once per session on first use, and `target`: one server in one mode with a fresh
pyqwest client for it."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from servers import HypercornServer, LoopThread

from pyqwest import Client, HTTPVersion, SyncClient

from .echo import echo_app
from .features import MODES, Features
from .site import Site, fill_docroot
from .targets import SERVERS, STARTERS


@pytest.fixture(scope="session")
def interop_site(
    server_loop: LoopThread, server_cert_files: dict[str, str]
) -> Iterator[Site]:
    # outside pytest's 0700 tmp: Apache's workers run as www-data and read the docroot
    workdir = Path(tempfile.mkdtemp(prefix="pyqwest-interop-"))
    workdir.chmod(0o755)
    docroot = workdir / "htdocs"
    fill_docroot(docroot)
    for name in ("certfile", "keyfile"):
        shutil.copy(server_cert_files[name], workdir / name)
        os.chmod(workdir / name, 0o644)
    echo = HypercornServer(server_loop, echo_app).start()
    yield Site(workdir, docroot, str(workdir / "certfile"), str(workdir / "keyfile"), echo.port)
    echo.stop()
    shutil.rmtree(workdir, ignore_errors=True)


class Servers:
    """Each server started on first use (a failed start is remembered), all stopped at the
    end of the session."""

    def __init__(self, site: Site) -> None:
        self._site = site
        self._running: dict[str, Any] = {}
        self._failed: dict[str, str] = {}

    def get(self, name: str) -> Any:
        if name in self._failed:
            pytest.fail(self._failed[name], pytrace=False)
        if name not in self._running:
            try:
                self._running[name] = STARTERS[name](self._site)
            except RuntimeError as exc:
                self._failed[name] = str(exc)
                raise
        return self._running[name]

    def stop_all(self) -> None:
        for server in self._running.values():
            server.stop()


@pytest.fixture(scope="session")
def interop_servers(interop_site: Site) -> Iterator[Servers]:
    servers = Servers(interop_site)
    yield servers
    servers.stop_all()


@dataclass
class Target:
    """One server in one mode, and a client (own transport, closed at teardown) for it: a
    Client (`target`) or a SyncClient (`sync_target`)."""

    name: str
    mode: str
    server: Any
    features: Features
    base: str
    transport: Any
    client: Any
    make_client: Callable[..., Any]

    def url(self, path: str) -> str:
        return self.base + path

    @property
    def h2(self) -> bool:
        return self.mode in ("h2-tls", "h2c")

    @property
    def version(self) -> HTTPVersion:
        """The HTTP version its responses must report."""
        if self.mode == "h3":
            return HTTPVersion.HTTP3
        return HTTPVersion.HTTP2 if self.h2 else HTTPVersion.HTTP1


@pytest.fixture
def target(
    request: pytest.FixtureRequest,
    interop_servers: Servers,
    make_transport: Callable[..., Any],
) -> Target:
    return _target(request, interop_servers, make_transport, Client)


@pytest.fixture
def sync_target(
    request: pytest.FixtureRequest,
    interop_servers: Servers,
    make_sync_transport: Callable[..., Any],
) -> Target:
    """`target` for the sync API: a SyncClient on a SyncHTTPTransport."""
    return _target(request, interop_servers, make_sync_transport, SyncClient)


def _target(
    request: pytest.FixtureRequest,
    interop_servers: Servers,
    make_transport: Callable[..., Any],
    client_class: Callable[[Any], Any],
) -> Target:
    server_name, mode = request.param
    server = interop_servers.get(server_name)
    scheme, version, listener = MODES[mode]
    http_version = None if version is None else getattr(HTTPVersion, version)

    def make_client(**options: Any) -> Any:
        return client_class(make_transport(http_version=http_version, **options))

    transport = make_transport(http_version=http_version)
    return Target(
        name=f"{server_name}-{mode}",
        mode=mode,
        server=server,
        features=SERVERS[server_name],
        base=f"{scheme}://127.0.0.1:{server.ports[listener]}",
        transport=transport,
        client=client_class(transport),
        make_client=make_client,
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed check against a real server shows the end of that server's logs: its side of
    a closed connection or a refused stream is only there."""
    outcome = yield
    report = outcome.get_result()
    funcargs = getattr(item, "funcargs", {})
    target = funcargs.get("target") or funcargs.get("sync_target")
    if report.failed and isinstance(target, Target):
        report.sections.append((f"{target.name} log", target.server.daemon.tail()))
