"""Shared fixtures for the pyqwest test-suite.

Servers (all loopback-only, each on a background thread with its own event loop, started once
per session and stopped cleanly at the end):

- ``http_server``   kitchensink ASGI app (see ``servers/kitchensink.py``) under hypercorn, HTTP/1.1.
- ``https_server``  the same over TLS (trustme cert for 127.0.0.1, localhost and ::1; ALPN h2+h1).
- ``mtls_server``   the same over TLS requiring a client certificate signed by ``ca``.
- ``scripted``      (function scope) a fresh raw asyncio server per test; set ``scripted.handler``.
- ``scripted_factory`` builds more (e.g. TLS) scripted servers:
  ``scripted_factory(handler, ssl_context=..., host=...)``.

Certificates: ``ca`` (trustme.CA), ``server_cert`` (127.0.0.1/localhost/::1),
``client_cert`` (subject ``CN=someclient,OU=tests,O=curioswitch``), ``ca_pem``/``client_cert_pem``/
``client_key_pem`` bytes, ``server_ssl_context()`` helper fixture.

Client side: ``transport`` (``HTTPTransport(tls_ca_cert=ca_pem)``, closed at teardown), ``client``
(``Client(transport)``), ``make_transport(**options)`` (adds ``tls_ca_cert`` unless given; every
transport is closed at teardown).

Event loops: every async test runs once on asyncio's default loop and once on uvloop (ids
``[asyncio]`` / ``[uvloop]``), through pytest-asyncio's ``pytest_asyncio_loop_factories`` hook
(pytest-asyncio >= 1.5; older versions fall back to the deprecated ``event_loop_policy`` fixture).

Hangs: pytest-timeout's signal method cannot interrupt a uvloop test, so every coroutine test
also runs under a deadline enforced by its own loop (90 % of the pytest-timeout value).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import ssl
import sys
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from servers import HypercornServer, LoopThread, ScriptedServer, kitchensink_app, serving

# fixtures of the HTTP-semantics app (content codings, redirects, cookies)
from servers.semantics import (  # noqa: F401
    semantics_h3_server,
    semantics_server,
    semantics_tls_server,
)
from servers.tls_certs import trustme

# Loopback tests must never be routed through a proxy from the developer's environment
# (HTTPTransport honours the usual *_PROXY variables when no proxy= is given).
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
    os.environ.pop(_var, None)
    os.environ.pop(_var.lower(), None)

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a test dependency on non-Windows
    uvloop = None  # type: ignore[assignment]


# --------------------------------------------------------------------------------------------
# event loops: asyncio and uvloop
# --------------------------------------------------------------------------------------------


def _loop_factories() -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
        "asyncio": asyncio.new_event_loop
    }
    if uvloop is not None:
        factories["uvloop"] = uvloop.new_event_loop
    return factories


def _has_loop_factory_hook() -> bool:
    try:
        from pytest_asyncio import plugin
    except ImportError:  # pragma: no cover
        return False
    return hasattr(plugin, "PytestAsyncioSpecs")


if _has_loop_factory_hook():

    def pytest_asyncio_loop_factories(config: Any, item: Any) -> dict[str, Any]:
        return _loop_factories()

else:  # pragma: no cover - pytest-asyncio < 1.5

    @pytest.fixture(
        scope="session",
        params=list(_loop_factories()),
    )
    def event_loop_policy(request: pytest.FixtureRequest) -> asyncio.AbstractEventLoopPolicy:
        if request.param == "uvloop":
            return uvloop.EventLoopPolicy()
        return asyncio.DefaultEventLoopPolicy()


# --------------------------------------------------------------------------------------------
# never hang: a loop-level deadline for every async test
# --------------------------------------------------------------------------------------------
# pytest-timeout's default "signal" method cannot interrupt a test running on uvloop: the
# SIGALRM handler runs inside a libuv callback and its exception is swallowed, so the test
# keeps waiting forever. Every coroutine test therefore also gets a deadline enforced by its own
# event loop, a little shorter than the pytest-timeout value (60 s, or a timeout marker): the
# test task is cancelled and the test fails with a clear message.


def _pytest_timeout_for(item: pytest.Item) -> float | None:
    marker = item.get_closest_marker("timeout")
    if marker is not None:
        value = marker.args[0] if marker.args else marker.kwargs.get("timeout")
    else:
        value = getattr(item.config.option, "timeout", None)  # --timeout
        if value is None:
            try:
                value = item.config.getini("timeout")  # pyproject / -o timeout=
            except ValueError:  # pytest-timeout not installed
                value = None
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


def _with_deadline(fn: Callable[..., Any], seconds: float) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def run_with_deadline(*args: Any, **kwargs: Any) -> Any:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        fired = False
        handle: asyncio.TimerHandle | None = None

        def fire() -> None:
            nonlocal fired, handle
            fired = True
            assert task is not None
            task.cancel(f"test exceeded its {seconds:g} s deadline")
            handle = loop.call_later(1.0, fire)  # in case the test swallows the cancellation

        handle = loop.call_later(seconds, fire)
        try:
            return await fn(*args, **kwargs)
        except asyncio.CancelledError:
            if fired:
                pytest.fail(f"async test hung: exceeded its {seconds:g} s deadline", pytrace=True)
            raise
        finally:
            handle.cancel()

    return run_with_deadline


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        fn = getattr(item, "obj", None)
        if fn is None or not inspect.iscoroutinefunction(fn):
            continue
        timeout = _pytest_timeout_for(item)
        if timeout is None:
            continue
        item.obj = _with_deadline(fn, max(timeout * 0.9, timeout - 5))  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------
# certificates
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    if trustme is None:
        pytest.skip("trustme (cryptography) cannot be installed on this interpreter")
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_pem(ca: trustme.CA) -> bytes:
    return ca.cert_pem.bytes()


@pytest.fixture(scope="session")
def server_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("127.0.0.1", "localhost", "::1")


@pytest.fixture(scope="session")
def client_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert(
        "someclient",
        common_name="someclient",
        organization_name="curioswitch",
        organization_unit_name="tests",
    )


@pytest.fixture(scope="session")
def client_cert_pem(client_cert: trustme.LeafCert) -> bytes:
    return b"".join(blob.bytes() for blob in client_cert.cert_chain_pems)


@pytest.fixture(scope="session")
def client_key_pem(client_cert: trustme.LeafCert) -> bytes:
    return client_cert.private_key_pem.bytes()


@pytest.fixture(scope="session")
def cert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("certs")


@pytest.fixture(scope="session")
def server_cert_files(
    server_cert: trustme.LeafCert, ca: trustme.CA, cert_dir: Path
) -> dict[str, str]:
    cert = cert_dir / "server.pem"
    key = cert_dir / "server.key"
    cafile = cert_dir / "ca.pem"
    server_cert.private_key_pem.write_to_path(str(key))
    server_cert.cert_chain_pems[0].write_to_path(str(cert))
    for blob in server_cert.cert_chain_pems[1:]:
        blob.write_to_path(str(cert), append=True)
    ca.cert_pem.write_to_path(str(cafile))
    return {"certfile": str(cert), "keyfile": str(key), "cafile": str(cafile)}


@pytest.fixture(scope="session")
def server_ssl_context(ca: trustme.CA) -> Callable[..., ssl.SSLContext]:
    """``server_ssl_context(leaf=None, *, require_client_cert=False, max_version=None)``."""

    def make(
        leaf: trustme.LeafCert | None = None,
        *,
        require_client_cert: bool = False,
        max_version: ssl.TLSVersion | None = None,
        alpn: list[str] | None = ("http/1.1",),  # type: ignore[assignment]
    ) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        (leaf or ca.issue_cert("127.0.0.1", "localhost", "::1")).configure_cert(ctx)
        if require_client_cert:
            ca.configure_trust(ctx)
            ctx.verify_mode = ssl.CERT_REQUIRED
        if max_version is not None:
            ctx.maximum_version = max_version
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        return ctx

    return make


# --------------------------------------------------------------------------------------------
# servers
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def server_loop() -> Iterator[LoopThread]:
    lt = LoopThread().start()
    yield lt
    lt.stop()


@pytest.fixture(scope="session")
def http_server(server_loop: LoopThread) -> Iterator[HypercornServer]:
    with serving(server_loop, kitchensink_app) as server:
        yield server


@pytest.fixture(scope="session")
def https_server(
    server_loop: LoopThread, server_cert_files: dict[str, str]
) -> Iterator[HypercornServer]:
    with serving(server_loop, kitchensink_app, server_cert_files) as server:
        yield server


@pytest.fixture(scope="session")
def mtls_server(
    server_loop: LoopThread, server_cert_files: dict[str, str]
) -> Iterator[HypercornServer]:
    with serving(
        server_loop,
        kitchensink_app,
        server_cert_files,
        ca_certs=server_cert_files["cafile"],
        require_client_cert=True,
    ) as server:
        yield server


@pytest.fixture
def h3_server(h3_server_session: HypercornServer) -> HypercornServer:
    """The kitchensink app over TLS and, on the same port number, HTTP/3 over QUIC; started
    again (with a warning naming the cause) if hypercorn's QUIC side stopped by itself, so one
    server fault fails no later test."""
    cause = h3_server_session.ensure_running()
    if cause is not None:
        warnings.warn(f"the HTTP/3 test server had stopped ({cause!r}); restarted", stacklevel=1)
    return h3_server_session


@pytest.fixture(scope="session")
def h3_server_session(
    server_loop: LoopThread, server_cert_files: dict[str, str]
) -> Iterator[HypercornServer]:
    """The one HTTP/3 kitchensink server of the session (tests take `h3_server`)."""
    with serving(server_loop, kitchensink_app, server_cert_files, quic=True) as server:
        yield server


@pytest.fixture
def scripted_factory(server_loop: LoopThread) -> Iterator[Callable[..., ScriptedServer]]:
    made: list[ScriptedServer] = []

    def make(handler: Any = None, **kwargs: Any) -> ScriptedServer:
        server = ScriptedServer(server_loop, handler, **kwargs).start()
        made.append(server)
        return server

    yield make
    errors = []
    for server in made:
        server.stop()
        errors.extend(server.errors)
    if errors:
        raise AssertionError(f"scripted server handler failed: {errors!r}") from errors[0]


@pytest.fixture
def scripted(scripted_factory: Callable[..., ScriptedServer]) -> ScriptedServer:
    return scripted_factory()


# --------------------------------------------------------------------------------------------
# client side
# --------------------------------------------------------------------------------------------


@pytest.fixture
async def make_transport(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., Any]]:
    import pyqwest

    # the test CA's roots, where certificates can be made (see `ca`): plain-HTTP tests run anyway
    ca_pem = request.getfixturevalue("ca_pem") if trustme is not None else None
    made: list[Any] = []

    def make(**options: Any) -> Any:
        if ca_pem is not None:
            options.setdefault("tls_ca_cert", ca_pem)
        t = pyqwest.HTTPTransport(**options)
        made.append(t)
        return t

    yield make
    for t in made:
        try:
            await asyncio.wait_for(t.aclose(), 10)
        except TimeoutError:
            pytest.fail("HTTPTransport.aclose() did not finish within 10 s", pytrace=False)


@pytest.fixture
async def transport(make_transport: Callable[..., Any]) -> Any:
    return make_transport()


@pytest.fixture
def client(transport: Any) -> Any:
    import pyqwest

    return pyqwest.Client(transport)


@pytest.fixture
def h2_server_factory(server_loop: LoopThread) -> Iterator[Callable[..., Any]]:
    """``h2_server_factory(handler=None, **kwargs)``: a raw HTTP/2 server (``servers.h2raw``,
    h2c unless ``ssl_context=``); stopped at teardown, failing the test if a handler raised."""
    from servers.h2raw import H2RawServer

    made: list[H2RawServer] = []

    def make(handler: Any = None, **kwargs: Any) -> H2RawServer:
        server = H2RawServer(server_loop, handler, **kwargs).start()
        made.append(server)
        return server

    yield make
    errors = []
    for server in made:
        server.stop()
        errors.extend(server.errors)
    if errors:
        raise AssertionError(f"h2 server handler failed: {errors!r}") from errors[0]


@pytest.fixture
def make_sync_transport(ca_pem: bytes) -> Iterator[Callable[..., Any]]:
    """``make_sync_transport(**options)``: a SyncHTTPTransport trusting ``ca`` (unless
    ``tls_ca_cert`` is given), closed at teardown."""
    import pyqwest

    made: list[Any] = []

    def make(**options: Any) -> Any:
        options.setdefault("tls_ca_cert", ca_pem)
        t = pyqwest.SyncHTTPTransport(**options)
        made.append(t)
        return t

    yield make
    for t in made:
        t.close()


@pytest.fixture
def sync_transport(make_sync_transport: Callable[..., Any]) -> Any:
    return make_sync_transport()


@pytest.fixture
def sync_client(sync_transport: Any) -> Any:
    import pyqwest

    return pyqwest.SyncClient(sync_transport)
