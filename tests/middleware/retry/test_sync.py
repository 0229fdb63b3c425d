"""pyqwest.middleware.retry.SyncRetryTransport (API.md §3.6) over WSGITransport with a scripted
WSGI app (the blocking HTTP transport is not there yet), plus sync transports that fail on
purpose. The decisions are the async transport's (shared code): these pin the sync plumbing."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pyqwest import ReadError, SyncClient, SyncRequest, SyncResponse
from pyqwest._pyqwest import _Backoff
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
