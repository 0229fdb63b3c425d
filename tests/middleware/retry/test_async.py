"""pyqwest.middleware.retry.RetryTransport (API.md §3.6) over a real HTTPTransport and a
hypercorn server whose answers are scripted per test, plus custom transports that fail on
purpose (connection errors, timeouts)."""

from __future__ import annotations

import asyncio
import email.utils
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from servers import HypercornServer, LoopThread

from pyqwest import Client, ReadError, Request, Response
from pyqwest.middleware.retry import RetryMode, RetryTransport
from pyqwest.middleware.retry._backoff import _Backoff
from pyqwest.middleware.retry._shared import parse_retry_after

# waits of 0.01, 0.03, 0.05, 0.05 s
FAST = {"initial_interval": 0.01, "randomization_factor": 0.0, "multiplier": 3.0,
        "max_interval": 0.05}


class Script:
    """What the server answers, per request key: a list of (status, headers) to play in turn
    (the last one repeats), and every body it received."""

    def __init__(self) -> None:
        self.answers: dict[str, list[tuple[int, list[tuple[bytes, bytes]]]]] = {}
        self.bodies: dict[str, list[bytes]] = {}
        self._keys = itertools.count()

    def key(self, *answers: int | tuple[int, dict[str, str]]) -> str:
        key = str(next(self._keys))
        self.answers[key] = [
            (a, []) if isinstance(a, int)
            else (a[0], [(k.encode(), v.encode()) for k, v in a[1].items()])
            for a in answers
        ]
        self.bodies[key] = []
        return key

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        key = scope["path"].strip("/")
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        self.bodies[key].append(body)
        plays = self.answers[key]
        status, headers = plays.pop(0) if len(plays) > 1 else plays[0]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"status %d" % status})


@pytest.fixture(scope="module")
def script_server() -> Iterator[tuple[Script, str]]:
    loop = LoopThread().start()
    script = Script()
    server = HypercornServer(loop, script).start()
    yield script, server.url
    server.stop()
    loop.stop()


@pytest.fixture
def retry(make_transport):
    def make(**options: Any) -> Client:
        return Client(RetryTransport(make_transport(), **{**FAST, **options}))

    return make


async def agen(*chunks: bytes) -> AsyncIterator[bytes]:
    for c in chunks:
        yield c


# --- backoff -------------------------------------------------------------------------------


def test_backoff_sequence():
    backoff = _Backoff(0.01, 0.0, 3.0, 0.05)
    assert [backoff.next_backoff() for _ in range(4)] == pytest.approx([0.01, 0.03, 0.05, 0.05])


def test_backoff_randomization_stays_in_range():
    backoff = _Backoff(1.0, 0.5, 1.0, 1.0)
    assert all(0.5 <= backoff.next_backoff() <= 1.5 for _ in range(200))  # type: ignore[operator]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", 3.0), ("0", 0.0), ("-5", None), ("soon", None), (None, None),
     ("Wed, 21 Oct 2015 07:28:00 GMT", None)],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value) == expected


def test_parse_retry_after_future_date():
    wait = parse_retry_after(email.utils.formatdate(time.time() + 30, usegmt=True))
    assert wait is not None and 28 < wait <= 30


# --- which outcomes are retried ------------------------------------------------------------


async def test_500_then_200(retry, script_server):
    script, url = script_server
    key = script.key(500, 200)
    start = time.monotonic()
    resp = await retry().get(f"{url}/{key}")
    assert resp.status == 200
    assert time.monotonic() - start >= 0.01
    assert len(script.bodies[key]) == 2


@pytest.mark.parametrize(("method", "status"), [("POST", 500), ("GET", 404), ("GET", 501)])
async def test_not_retried(retry, script_server, method, status):
    script, url = script_server
    key = script.key(status, 200)
    resp = await retry().execute(method, f"{url}/{key}")
    assert resp.status == status
    assert len(script.bodies[key]) == 1


async def test_fifth_try_succeeds(retry, script_server):
    script, url = script_server
    key = script.key(503, 502, 500, 429, 200)
    start = time.monotonic()
    assert (await retry().get(f"{url}/{key}")).status == 200
    assert time.monotonic() - start >= 0.14
    assert len(script.bodies[key]) == 5


async def test_budget_exhausted(retry, script_server):
    script, url = script_server
    key = script.key(500)
    with pytest.raises(ReadError, match=r"^Maximum retry attempts exceeded: 4$") as info:
        await retry().get(f"{url}/{key}")
    assert info.value.__cause__ is None
    assert len(script.bodies[key]) == 5


async def test_retry_after_seconds_overrides_backoff(retry, script_server):
    script, url = script_server
    key = script.key((429, {"retry-after": "0"}), 200)
    # the backoff alone would wait 30 s: the test's deadline proves Retry-After won
    resp = await asyncio.wait_for(retry(initial_interval=30.0).get(f"{url}/{key}"), 20)
    assert resp.status == 200


async def test_retry_after_date_overrides_backoff(retry, script_server):
    script, url = script_server
    soon = email.utils.formatdate(time.time() + 3, usegmt=True)  # whole seconds: +3 stays ahead
    key = script.key((429, {"retry-after": soon}), 200)
    resp = await asyncio.wait_for(retry(initial_interval=30.0).get(f"{url}/{key}"), 20)
    assert resp.status == 200


@pytest.mark.parametrize("value", ["-1", "Wed, 21 Oct 2015 07:28:00 GMT"])
async def test_negative_or_past_retry_after_uses_backoff(retry, script_server, value):
    script, url = script_server
    key = script.key((429, {"retry-after": value}), 200)
    assert (await retry().get(f"{url}/{key}")).status == 200


# --- bodies --------------------------------------------------------------------------------


async def test_bytes_body_replayed(retry, script_server):
    script, url = script_server
    key = script.key(500, 500, 200)
    await retry().put(f"{url}/{key}", content=b"payload")
    assert script.bodies[key] == [b"payload"] * 3


async def test_buffered_stream_replayed_and_closed_once(retry, script_server):
    script, url = script_server
    key = script.key(500, 200)
    closed: list[bool] = []

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b"one "
            yield b"two"
        finally:
            closed.append(True)

    assert (await retry().put(f"{url}/{key}", content=body())).status == 200
    assert script.bodies[key] == [b"one two", b"one two"]
    assert closed == [True]


async def test_unbuffered_stream_never_retried_on_a_response(make_transport, script_server):
    script, url = script_server

    class Eager(RetryTransport):
        def should_retry_response(self, request: Request, response: Any) -> bool:
            return True

    key = script.key(500, 200)
    client = Client(Eager(make_transport(), **FAST))
    resp = await client.post(f"{url}/{key}", content=agen(b"x"))
    assert resp.status == 500
    assert len(script.bodies[key]) == 1


class FailFirst:
    """A Transport whose first `n` executes raise `error` (before touching the body)."""

    def __init__(self, inner: Any, error: Exception, n: int = 1) -> None:
        self.inner, self.error, self.n, self.calls = inner, error, n, 0

    async def execute(self, request: Request) -> Response:
        self.calls += 1
        if self.calls <= self.n:
            raise self.error
        return await self.inner.execute(request)


async def test_unbuffered_stream_retried_when_never_read(make_transport, script_server):
    script, url = script_server
    key = script.key(200)
    inner = FailFirst(make_transport(), ConnectionError("refused"))
    resp = await Client(RetryTransport(inner, **FAST)).post(f"{url}/{key}", content=agen(b"x"))
    assert resp.status == 200
    assert script.bodies[key] == [b"x"]


async def test_unbuffered_stream_closed_if_never_read():
    closed: list[bool] = []

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b"x"
        finally:
            closed.append(True)

    gen = body()
    await anext(gen)  # started, so its finally runs on close

    class Refuse:
        async def execute(self, request: Request) -> Response:
            raise ConnectionError("refused")

    with pytest.raises(ConnectionError):
        await Client(RetryTransport(Refuse(), **FAST, max_retries=1)).post("http://h/", content=gen)
    assert closed == [True]


async def test_connection_error_reraised_as_is(make_transport):
    refusing = FailFirst(make_transport(), ConnectionRefusedError("no"), n=10)
    with pytest.raises(ConnectionRefusedError, match=r"^no$"):
        await Client(RetryTransport(refusing, **FAST, max_retries=2)).get("http://h/")
    assert refusing.calls == 3


async def test_post_timeout_not_retried(make_transport):
    timing_out = FailFirst(make_transport(), TimeoutError("slow"), n=10)
    with pytest.raises(TimeoutError, match=r"^slow$"):
        await Client(RetryTransport(timing_out, **FAST)).post("http://h/", content=b"x")
    assert timing_out.calls == 1


async def test_get_errors_exhaust_into_read_error(make_transport):
    failing = FailFirst(make_transport(), TimeoutError("slow"), n=10)
    with pytest.raises(ReadError, match="Maximum retry attempts exceeded: 1") as info:
        await Client(RetryTransport(failing, **FAST, max_retries=1)).get("http://h/")
    assert isinstance(info.value.__cause__, TimeoutError)


# --- hooks and responses -------------------------------------------------------------------


async def test_retried_responses_are_closed():
    closed: list[int] = []

    class Flaky:
        def __init__(self) -> None:
            self.calls = 0

        async def execute(self, request: Request) -> Response:
            self.calls += 1
            n = self.calls

            async def body() -> AsyncIterator[bytes]:
                try:
                    yield b"body"
                finally:
                    closed.append(n)

            gen = body()
            await anext(gen)
            return Response(status=500 if n < 3 else 200, content=gen)

    resp = await RetryTransport(Flaky(), **FAST).execute(Request("GET", "http://h/"))
    assert resp.status == 200
    assert closed == [1, 2]
    await resp.aclose()


@pytest.mark.parametrize(("decision", "calls"), [(False, 1), (True, 2), (RetryMode.BUFFERED, 2)])
async def test_should_retry_request_hook(make_transport, script_server, decision, calls):
    script, url = script_server

    class Hooked(RetryTransport):
        def should_retry_request(self, request: Request) -> bool | RetryMode:
            return decision

        def should_retry_response(self, request: Request, response: Any) -> bool:
            # POST is not retried by default: here only the request hook decides
            return isinstance(response, Exception) or response.status >= 500

    key = script.key(500, 200)
    await Client(Hooked(make_transport(), **FAST)).post(f"{url}/{key}", content=agen(b"b"))
    assert len(script.bodies[key]) == calls
    assert set(script.bodies[key]) == {b"b"}
