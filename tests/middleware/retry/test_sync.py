"""pyqwest.middleware.retry.SyncRetryTransport (API.md §3.6) over SyncHTTPTransport against the
kitchensink app under hypercorn, over WSGITransport with a scripted WSGI app, plus sync
transports that fail on purpose. The decisions are the async transport's (shared code): these
pin the sync plumbing."""

from __future__ import annotations

import email.utils
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from test_errors import refused_port  # noqa: F401

from pyqwest import HTTPVersion, ReadError, SyncClient, SyncRequest, SyncResponse
from pyqwest._pyqwest import _Backoff
from pyqwest.httpx import PyqwestTransport
from pyqwest.middleware.retry import RetryMode, SyncRetryTransport
from pyqwest.testing import WSGITransport

FAST = {"initial_interval": 0.01, "randomization_factor": 0.0, "multiplier": 3.0,
        "max_interval": 0.05}


class Script:
    """A WSGI app answering (status, headers) in turn (the last repeats); records bodies."""

    def __init__(self, *answers: int | tuple[int, dict[str, str]]) -> None:
        self.answers = [(a, {}) if isinstance(a, int) else a for a in answers]
        self.bodies: list[bytes] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.bodies.append(environ["wsgi.input"].read())
        status, headers = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        start_response(f"{status} X", list(headers.items()))
        return [b"status %d" % status]


def retrying(app: Any, **options: Any) -> SyncClient:
    return SyncClient(SyncRetryTransport(WSGITransport(app), **{**FAST, **options}))


def test_backoff_reexported_from_pyqwest_private_module():
    backoff = _Backoff(0.01, 0.0, 3.0, 0.05)
    assert [backoff.next_backoff() for _ in range(4)] == pytest.approx([0.01, 0.03, 0.05, 0.05])


# --- over SyncHTTPTransport, against the kitchensink under hypercorn -----------------------


@pytest.fixture(params=["h1", "h2"])
def real(request, make_sync_transport, http_server, https_server):
    """(SyncHTTPTransport, kitchensink URL) per HTTP version (h2: TLS, HTTP/2 forced)."""
    if request.param == "h1":
        return make_sync_transport(), http_server.url
    return make_sync_transport(http_version=HTTPVersion.HTTP2), https_server.url


def test_real_500_then_200(real):
    transport, base = real
    client = SyncClient(SyncRetryTransport(transport, **FAST))
    resp = client.get(f"{base}/flaky/{uuid.uuid4().hex}?fail=2")
    assert (resp.status, resp.content) == (200, b"ok")


def test_real_streamed_500_then_200(real):
    transport, base = real
    client = SyncClient(SyncRetryTransport(transport, **FAST))
    with client.stream("GET", f"{base}/flaky/{uuid.uuid4().hex}?fail=3") as resp:
        assert (resp.status, b"".join(resp.content)) == (200, b"ok")


def test_real_budget_exhausted(real):
    transport, base = real
    client = SyncClient(SyncRetryTransport(transport, **FAST, max_retries=2))
    with pytest.raises(ReadError, match=r"^Maximum retry attempts exceeded: 2$"):
        client.get(f"{base}/status/503")


def test_real_connect_refused_reraised_as_is(make_sync_transport, refused_port):  # noqa: F811
    client = SyncClient(SyncRetryTransport(make_sync_transport(), **FAST, max_retries=1))
    with pytest.raises(ConnectionError) as info:
        client.get(f"http://127.0.0.1:{refused_port}/")
    assert type(info.value) is ConnectionError  # not the ReadError of an exhausted budget
    assert isinstance(info.value.__cause__, ConnectionRefusedError)


def test_real_deadline_passed_is_not_retried(real):
    """A GET timing out is retried by default; once the call's deadline has passed, the
    TimeoutError is the caller's (no tries that can only fail, no 'Maximum retry attempts')."""
    transport, base = real
    client = SyncClient(SyncRetryTransport(transport, **FAST))
    with pytest.raises(TimeoutError) as info:
        client.get(f"{base}/stall?where=headers&sleep=3", timeout=0.2)
    assert type(info.value) is TimeoutError


def test_real_deadline_under_httpx_is_read_timeout(real):
    transport, base = real
    client = httpx.Client(transport=PyqwestTransport(SyncRetryTransport(transport, **FAST)))
    with client, pytest.raises(httpx.ReadTimeout):
        client.get(f"{base}/stall?where=headers&sleep=3", timeout=0.1)


def test_no_retry_whose_wait_ends_past_the_deadline():
    app = Script(500, 200)
    client = retrying(app, initial_interval=30.0, max_interval=30.0)
    assert client.get("http://h/", timeout=5).status == 500
    assert len(app.bodies) == 1


def test_real_under_httpx_500_then_200(make_sync_transport, http_server):
    retrying_transport = SyncRetryTransport(make_sync_transport(), **FAST)
    with httpx.Client(transport=PyqwestTransport(retrying_transport)) as client:
        resp = client.get(f"{http_server.url}/flaky/{uuid.uuid4().hex}?fail=1")
    assert (resp.status_code, resp.content) == (200, b"ok")


def test_real_under_httpx_budget_exhausted_is_read_error(make_sync_transport, http_server):
    client = httpx.Client(
        transport=PyqwestTransport(SyncRetryTransport(make_sync_transport(), **FAST)))
    with client, pytest.raises(httpx.ReadError, match=r"^Maximum retry attempts exceeded: 4$"):
        client.get(f"{http_server.url}/status/500")


# --- over WSGITransport --------------------------------------------------------------------


def test_500_then_200():
    app = Script(500, 200)
    assert retrying(app).get("http://h/").status == 200
    assert len(app.bodies) == 2


@pytest.mark.parametrize(("method", "status"), [("POST", 500), ("GET", 404), ("GET", 501)])
def test_not_retried(method, status):
    app = Script(status, 200)
    assert retrying(app).execute(method, "http://h/").status == status
    assert len(app.bodies) == 1


def test_fifth_try_succeeds_after_the_backoff():
    app = Script(500, 500, 500, 500, 200)
    start = time.monotonic()
    assert retrying(app).get("http://h/").status == 200
    assert time.monotonic() - start >= 0.14


def test_budget_exhausted():
    app = Script(503)
    with pytest.raises(ReadError, match=r"^Maximum retry attempts exceeded: 4$"):
        retrying(app).get("http://h/")
    assert len(app.bodies) == 5


def test_retry_after_date_overrides_backoff():
    soon = email.utils.formatdate(time.time() + 3, usegmt=True)  # whole seconds: +3 stays ahead
    app = Script((429, {"retry-after": soon}), 200)
    assert retrying(app, initial_interval=30.0).get("http://h/").status == 200


def test_buffered_stream_replayed_and_closed_once():
    closed: list[bool] = []

    def body() -> Iterator[bytes]:
        try:
            yield b"one "
            yield b"two"
        finally:
            closed.append(True)

    app = Script(500, 200)
    assert retrying(app).put("http://h/", content=body()).status == 200
    assert app.bodies == [b"one two", b"one two"]
    assert closed == [True]


def test_unbuffered_stream_never_retried_on_a_response():
    class Eager(SyncRetryTransport):
        def should_retry_response(self, request: SyncRequest, response: Any) -> bool:
            return True

    app = Script(500, 200)
    resp = SyncClient(Eager(WSGITransport(app), **FAST)).post("http://h/", content=iter([b"x"]))
    assert resp.status == 500
    assert len(app.bodies) == 1


class FailFirst:
    """A SyncTransport whose first `n` executes raise `error` before touching the body."""

    def __init__(self, inner: Any, error: Exception, n: int = 1) -> None:
        self.inner, self.error, self.n, self.calls = inner, error, n, 0

    def execute_sync(self, request: SyncRequest) -> SyncResponse:
        self.calls += 1
        if self.calls <= self.n:
            raise self.error
        return self.inner.execute_sync(request)


@pytest.mark.parametrize("mode", [RetryMode.BUFFERED, RetryMode.UNBUFFERED])
def test_stream_retried_after_connection_error_before_read(mode):
    class Mode(SyncRetryTransport):
        def should_retry_request(self, request: SyncRequest) -> RetryMode:
            return mode

    app = Script(200)
    inner = FailFirst(WSGITransport(app), ConnectionError("refused"))
    resp = SyncClient(Mode(inner, **FAST)).post("http://h/", content=iter([b"a", b"b"]))
    assert resp.status == 200
    assert app.bodies == [b"ab"]


def test_connection_error_reraised_as_is():
    refusing = FailFirst(WSGITransport(Script(200)), ConnectionRefusedError("no"), n=10)
    with pytest.raises(ConnectionRefusedError, match=r"^no$"):
        SyncClient(SyncRetryTransport(refusing, **FAST, max_retries=2)).get("http://h/")
    assert refusing.calls == 3


def test_post_timeout_not_retried():
    timing_out = FailFirst(WSGITransport(Script(200)), TimeoutError("slow"), n=10)
    with pytest.raises(TimeoutError, match=r"^slow$"):
        SyncClient(SyncRetryTransport(timing_out, **FAST)).post("http://h/", content=b"x")
    assert timing_out.calls == 1


def test_retried_responses_are_closed():
    closed: list[int] = []

    class Flaky:
        def __init__(self) -> None:
            self.calls = 0

        def execute_sync(self, request: SyncRequest) -> SyncResponse:
            self.calls += 1
            n = self.calls

            def body() -> Iterator[bytes]:
                try:
                    yield b"body"
                finally:
                    closed.append(n)

            gen = body()
            next(gen)
            return SyncResponse(status=500 if n < 3 else 200, content=gen)

    resp = SyncRetryTransport(Flaky(), **FAST).execute_sync(SyncRequest("GET", "http://h/"))
    assert resp.status == 200
    assert closed == [1, 2]
    resp.close()
