"""Logging (spec §3.8): the `pyqwest` and `pyqwest.access` loggers, DEBUG only, exact messages
and arguments, one access record per logical request, failures only on `pyqwest`; async and
sync clients, HTTP/1.1 and HTTP/2 (h2c prior knowledge), buffered and streamed."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import pytest

from pyqwest import Client, HTTPVersion, SyncClient

LOG = "pyqwest"
ACCESS = "pyqwest.access"

pytestmark = pytest.mark.parametrize("flavour", ["async", "sync"])


@pytest.fixture(params=["h1", "h2"])
def version(request: pytest.FixtureRequest) -> HTTPVersion:
    return HTTPVersion.HTTP1 if request.param == "h1" else HTTPVersion.HTTP2


@pytest.fixture
def client(
    flavour: str, version: HTTPVersion, make_transport: Any, make_sync_transport: Any
) -> Client | SyncClient:
    if flavour == "async":
        return Client(make_transport(http_version=version))
    return SyncClient(make_sync_transport(http_version=version))


async def get(client: Client | SyncClient, url: str) -> Any:
    if isinstance(client, SyncClient):
        return await asyncio.to_thread(client.get, url)
    return await client.get(url)


async def stream_post(client: Client | SyncClient, url: str, body: bytes) -> bytes:
    if isinstance(client, SyncClient):

        def run() -> bytes:
            with client.stream("POST", url, content=body) as resp:
                return b"".join(resp.content)

        return await asyncio.to_thread(run)
    async with client.stream("POST", url, content=body) as resp:
        return b"".join([bytes(c) async for c in resp.content])


def records(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == name]


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [("/echo", 200, "OK"), ("/status/404", 404, "Not Found"), ("/status/599", 599, "")],
)
async def test_access_record(client, version, http_server, caplog, path, status, reason):
    """One DEBUG record per response; the reason is the canonical phrase ("" without one)."""
    url = http_server.url + path
    with caplog.at_level(logging.DEBUG, logger=ACCESS):
        resp = await get(client, url)
    assert resp.status == status
    (record,) = records(caplog, ACCESS)
    assert record.levelno == logging.DEBUG
    assert record.args == ("GET", url, str(version), status, reason)
    assert record.getMessage() == f'HTTP Request: GET {url} "{version} {status} {reason}"'
    # the access child at DEBUG does not enable its parent
    assert not records(caplog, LOG)


async def test_parent_logger_enables_both_without_duplicates(client, version, http_server,
                                                             caplog):
    url = http_server.url + "/echo"
    with caplog.at_level(logging.DEBUG, logger=LOG):
        await get(client, url)
    assert [r.getMessage() for r in records(caplog, LOG)] == [f"Sending HTTP request: GET {url}"]
    assert records(caplog, LOG)[0].args == ("GET", url)
    assert records(caplog, LOG)[0].levelno == logging.DEBUG
    (access,) = records(caplog, ACCESS)
    assert access.getMessage() == f'HTTP Request: GET {url} "{version} 200 OK"'


async def test_access_level_of_its_own_wins(client, http_server, caplog):
    url = http_server.url + "/echo"
    access = logging.getLogger(ACCESS)
    with caplog.at_level(logging.DEBUG, logger=LOG):
        access.setLevel(logging.INFO)
        try:
            await get(client, url)
        finally:
            access.setLevel(logging.NOTSET)
    assert not records(caplog, ACCESS)
    assert [r.getMessage() for r in records(caplog, LOG)] == [f"Sending HTTP request: GET {url}"]


async def test_streamed_request_logged_once(client, version, http_server, caplog):
    url = http_server.url + "/echo"
    with caplog.at_level(logging.DEBUG, logger=LOG):
        assert await stream_post(client, url, b"Hello, World!") == b"Hello, World!"
    assert len(records(caplog, LOG)) == 1
    (access,) = records(caplog, ACCESS)
    assert access.getMessage() == f'HTTP Request: POST {url} "{version} 200 OK"'


async def test_nothing_at_info(client, http_server, caplog):
    with caplog.at_level(logging.INFO, logger=LOG), caplog.at_level(logging.INFO, logger=ACCESS):
        await get(client, http_server.url + "/echo")
    assert not records(caplog, LOG)
    assert not records(caplog, ACCESS)


async def test_connection_error_two_records_on_pyqwest_only(client, caplog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://localhost:{port}/echo"
    with caplog.at_level(logging.DEBUG, logger=LOG), pytest.raises(ConnectionError):
        await get(client, url)
    assert not records(caplog, ACCESS)
    first, second = records(caplog, LOG)
    assert first.getMessage() == f"Sending HTTP request: GET {url}"
    assert second.msg == "HTTP request failed: %s %s (%r)"
    assert second.args is not None and second.args[:2] == ("GET", url)
    assert isinstance(second.args[2], ConnectionError)
    assert second.getMessage().startswith(f"HTTP request failed: GET {url} (ConnectionError(")


async def test_redirects_are_one_logical_request(client, version, http_server, caplog):
    """As the original (whose engine follows redirects inside one send): one record per
    logger for the whole chain, with the URL asked for and the final status."""
    url = http_server.url + "/redirect/3"
    with caplog.at_level(logging.DEBUG, logger=LOG):
        resp = await get(client, url)
    assert resp.status == 200
    assert [r.getMessage() for r in records(caplog, LOG)] == [f"Sending HTTP request: GET {url}"]
    (access,) = records(caplog, ACCESS)
    assert access.args == ("GET", url, str(version), 200, "OK")


async def test_failure_after_the_head_is_not_a_second_record(client, version, http_server,
                                                             caplog):
    if version is HTTPVersion.HTTP2:
        pytest.skip("hypercorn holds an HTTP/2 stream 30 s after an app error (test_otel)")
    url = http_server.url + "/echo"
    with caplog.at_level(logging.DEBUG, logger=LOG), pytest.raises(Exception):  # noqa: B017
        if isinstance(client, SyncClient):
            await asyncio.to_thread(client.get, url, {"x-error-response": "1"})
        else:
            await client.get(url, {"x-error-response": "1"})
    # the head arrived (access record); a failed body is the caller's exception, not a log
    assert [r.name for r in caplog.records if r.name.startswith(LOG)] == [LOG, ACCESS]
