"""ASGITransport: a Transport that calls an ASGI application in-process (API.md §3.2).

Each request is one `_Exchange`: the app runs in its own task, a second task pumps the request
body into `receive()`, and the app's `send()` messages flow through a one-slot queue (so a
slow reader slows the app, as a socket would). The response starts when the app sends
`http.response.start`; its body streams while the request body is still being produced (full
duplex). Closing the response, or the transport, cancels whatever of the exchange still runs
and waits for it: nothing is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any, TypeAlias, cast

from cpqwest._errors import ReadError, WriteError

from .._decompress import Decoder
from .._headers import Headers
from .._request import Request
from .._response import Response
from .._version import HTTPVersion
from ._common import PLAIN_TEXT, SERVER_VERSION, body_decoder, sends_trailers, server_view

Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Message, Receive, Send], Awaitable[None]]
# ASGI 2: app(scope) returns the coroutine function that takes (receive, send)
ASGI2App: TypeAlias = Callable[[Message], Callable[[Receive, Send], Awaitable[None]]]

_ASGI = {"version": "3.0", "spec_version": "2.5"}
NO_RESPONSE = b"ASGI application did not start a response"


def as_asgi3(app: ASGIApp | ASGI2App) -> ASGIApp:
    """`app` as a single-callable (ASGI 3) app; an ASGI 2 app (`app(scope)` returns the
    coroutine function) is adapted."""
    if not inspect.isclass(app) and (
        inspect.iscoroutinefunction(app)  # functions, methods, partials of them
        or inspect.iscoroutinefunction(type(app).__call__)  # app objects
    ):
        return cast(ASGIApp, app)
    return _asgi2(cast(ASGI2App, app))


def _asgi2(app: ASGI2App) -> ASGIApp:
    async def asgi3(scope: Message, receive: Receive, send: Send) -> None:
        await app(scope)(receive, send)

    return asgi3


class _AppDone:
    """The last message of an exchange: the app returned (`error` None) or raised."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class _Exchange:
    """One request through the app: its tasks, and the queue of what the app sent."""

    def __init__(self, app: ASGIApp, scope: Message, body: bytes | AsyncIterator[bytes]) -> None:
        self._sent: asyncio.Queue[Message | _AppDone] = asyncio.Queue(1)
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue(1)
        self._response_done = asyncio.Event()
        # the request body's failure, raised to the client instead of what the app made of it
        self.body_error: WriteError | None = None
        self._body: bytes | None = None
        self._body_done = False
        self._pump: asyncio.Task[None] | None = None
        if isinstance(body, bytes):
            self._body = body
        else:
            self._pump = asyncio.ensure_future(self._pump_body(body))
        self._app_task = asyncio.ensure_future(self._run(app, scope))

    async def _pump_body(self, body: AsyncIterator[bytes]) -> None:
        try:
            async for chunk in body:
                if not isinstance(chunk, (bytes, bytearray, memoryview)):
                    raise WriteError("Request not bytes object")
                if chunk:
                    await self._chunks.put(bytes(chunk))
        except WriteError as exc:
            self.body_error = exc
        except Exception as exc:
            self.body_error = WriteError(f"Request failed: {exc}")
            self.body_error.__cause__ = exc
        finally:
            aclose = getattr(body, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
        await self._chunks.put(None)

    async def _run(self, app: ASGIApp, scope: Message) -> None:
        try:
            await app(scope, self._receive, self._send)
        except Exception as exc:
            await self._sent.put(_AppDone(exc))
        else:
            await self._sent.put(_AppDone(None))

    async def _receive(self) -> Message:
        if self._body_done:
            # everything was received: the next event is the end of the exchange
            await self._response_done.wait()
            return {"type": "http.disconnect"}
        if self._body is not None:
            body, self._body, self._body_done = self._body, None, True
            return {"type": "http.request", "body": body, "more_body": False}
        chunk = await self._chunks.get()
        if self.body_error is not None:
            raise self.body_error
        if chunk is None:
            self._body_done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def _send(self, message: Message) -> None:
        if self._response_done.is_set():
            raise OSError("ASGI response already finished")
        await self._sent.put(message)

    def next_message(self) -> Awaitable[Message | _AppDone]:
        return self._sent.get()

    async def finish(self) -> BaseException | None:
        """The response body ended: let the app run to its end (background work included);
        an error it raises now is returned, not raised (the response was already whole)."""
        self._response_done.set()
        while True:
            message = await self._sent.get()
            if isinstance(message, _AppDone):
                break
        await self.cancel()
        return message.error

    async def cancel(self) -> None:
        """Stop and wait for everything of this exchange that still runs."""
        self._response_done.set()
        tasks = [t for t in (self._app_task, self._pump) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task


class _ASGIBody:
    """The response body of one exchange: the app's body messages, decoded, then trailers."""

    __slots__ = ("_decoder", "_exchange", "_pending", "_trailers", "_transport", "_wait_trailers")

    def __init__(
        self, transport: ASGITransport, exchange: _Exchange, decoder: Decoder | None,
        trailers: Headers | None, wait_trailers: bool,
    ) -> None:
        self._transport = transport
        self._exchange: _Exchange | None = exchange
        self._decoder = decoder
        self._trailers = trailers
        self._wait_trailers = wait_trailers
        self._pending: list[bytes] = []

    def __aiter__(self) -> _ASGIBody:
        return self

    async def __anext__(self) -> bytes:
        while not self._pending:
            exchange = self._exchange
            if exchange is None:
                raise StopAsyncIteration
            await self._step(exchange)
        return self._pending.pop(0)

    async def _step(self, exchange: _Exchange) -> None:
        try:
            message = await exchange.next_message()
        except BaseException:
            await self.aclose()
            raise
        if isinstance(message, _AppDone):
            if message.error is None:
                await self._end(exchange)
                return
            await self.aclose()
            raise self._transport._body_failure(exchange, message.error)
        if exchange.body_error is not None:
            await self.aclose()
            raise exchange.body_error
        kind = message.get("type")
        if kind == "http.response.body":
            body = bytes(message.get("body", b""))
            if body:
                self._pending.extend(self._decoder.feed(body) if self._decoder else (body,))
            if not message.get("more_body", False) and not self._wait_trailers:
                await self._end(exchange)
        elif kind == "http.response.trailers":
            if self._trailers is not None:
                for name, value in message.get("headers", ()):
                    self._trailers.add(name.decode("latin-1"), value.decode("latin-1"))
            if not message.get("more_trailers", False):
                await self._end(exchange)

    async def _end(self, exchange: _Exchange) -> None:
        self._exchange = None
        if self._decoder is not None:
            self._pending.extend(self._decoder.finish())
        self._transport._exchanges.discard(exchange)
        error = await exchange.finish()
        if error is not None:
            self._transport._app_exception = error

    async def aclose(self) -> None:
        exchange, self._exchange = self._exchange, None
        if exchange is not None:
            self._transport._exchanges.discard(exchange)
            await exchange.cancel()


class ASGITransport:
    """A `Transport` that calls an ASGI application in-process: for tests.

    `async with transport` runs the app's lifespan startup (an app without lifespan support is
    fine) and its shutdown on exit (`close()`). `http_version` is what the scope reports and
    decides trailers (HTTP/2 only, for requests with `te: trailers`); `client` is the scope's
    client address.
    """

    def __init__(
        self,
        app: ASGIApp | ASGI2App,
        http_version: HTTPVersion = HTTPVersion.HTTP2,
        client: tuple[str, int] = ("127.0.0.1", 111),
    ) -> None:
        self._app = as_asgi3(app)
        self._http_version = http_version
        self._client = client
        self._state: dict[str, Any] = {}
        self._app_exception: BaseException | None = None
        self._exchanges: set[_Exchange] = set()
        self._lifespan: _Lifespan | None = None

    @property
    def app_exception(self) -> BaseException | None:
        """The last exception the app raised (a 500 response or a failed body stands for it)."""
        return self._app_exception

    def _scope(self, request: Request) -> Message:
        view = server_view(request)
        return {
            "type": "http",
            "asgi": dict(_ASGI),
            "http_version": SERVER_VERSION[self._http_version],
            "method": request.method,
            "scheme": view.scheme,
            "path": view.path,
            "raw_path": view.raw_path.encode("latin-1"),
            "query_string": view.query.encode("latin-1"),
            "root_path": "",
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in view.headers],
            "server": (view.host, view.port),
            "client": self._client,
            "extensions": {"http.response.trailers": {}},
            "state": dict(self._state),
        }

    def execute(self, request: Request) -> Awaitable[Response]:
        """Run `request` through the app; resolves when the app starts its response."""
        return self._execute(request)

    async def _execute(self, request: Request) -> Response:
        exchange = _Exchange(self._app, self._scope(request), request.content)
        self._exchanges.add(exchange)
        try:
            message = await exchange.next_message()
            if exchange.body_error is not None:
                raise exchange.body_error
            if isinstance(message, _AppDone):
                return self._no_response(message.error)
            if message.get("type") != "http.response.start":
                raise RuntimeError(
                    f"ASGI application sent {message.get('type')!r} before http.response.start"
                )
        except BaseException:
            self._exchanges.discard(exchange)
            await exchange.cancel()
            raise
        headers = Headers(
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", ())
        )
        trailers = Headers() if sends_trailers(self._http_version, request) else None
        body = _ASGIBody(self, exchange, body_decoder(headers), trailers,
                         bool(message.get("trailers", False)))
        return Response(
            status=message["status"], http_version=self._http_version, headers=headers,
            content=body, trailers=trailers,
        )

    def _no_response(self, error: BaseException | None) -> Response:
        """The app ended before starting a response: a connection or timeout error is raised
        as it is; anything else becomes a 500 whose text is the error."""
        if error is None:
            text = NO_RESPONSE
        else:
            self._app_exception = error
            if isinstance(error, (ConnectionError, TimeoutError)):
                raise error
            text = str(error).encode()
        return Response(
            status=500, http_version=self._http_version,
            headers=Headers(PLAIN_TEXT), content=text,
        )

    def _body_failure(self, exchange: _Exchange, error: BaseException) -> Exception:
        """What the client sees of an app failure after the response started: the request
        body's own error, else a ReadError."""
        if exchange.body_error is not None:
            return exchange.body_error
        self._app_exception = error
        failure = ReadError(f"Error reading content: {error}")
        failure.__cause__ = error
        return failure

    # --- lifespan --------------------------------------------------------------------------
    async def __aenter__(self) -> ASGITransport:
        lifespan = _Lifespan(self._app, self._state)
        if await lifespan.startup():
            self._lifespan = lifespan
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Cancel and await every exchange still running, then run the lifespan shutdown."""
        exchanges, self._exchanges = self._exchanges, set()
        for exchange in exchanges:
            await exchange.cancel()
        lifespan, self._lifespan = self._lifespan, None
        if lifespan is not None:
            await lifespan.shutdown()

    aclose = close


class _Lifespan:
    """The app's lifespan protocol: startup on enter, shutdown on close."""

    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        self._app = app
        self._state = state
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message | _AppDone] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": dict(_ASGI), "state": self._state}
        try:
            await self._app(scope, self._to_app.get, self._send)
        except Exception as exc:
            self._from_app.put_nowait(_AppDone(exc))
        else:
            self._from_app.put_nowait(_AppDone(None))

    async def _send(self, message: Message) -> None:
        self._from_app.put_nowait(message)

    async def startup(self) -> bool:
        """Run the startup; False when the app does not do lifespan."""
        self._task = asyncio.ensure_future(self._run())
        self._to_app.put_nowait({"type": "lifespan.startup"})
        message = await self._from_app.get()
        if isinstance(message, _AppDone):
            return False  # lifespan unsupported: the app raised or returned at once
        if message["type"] == "lifespan.startup.failed":
            await self._stop()
            raise RuntimeError(
                f"ASGI application failed to start up: {message.get('message', '')}"
            )
        return True

    async def shutdown(self) -> None:
        """Run the shutdown and wait for the lifespan task to end."""
        self._to_app.put_nowait({"type": "lifespan.shutdown"})
        message = await self._from_app.get()
        await self._stop()
        if isinstance(message, _AppDone):
            if message.error is not None:
                raise RuntimeError(
                    f"ASGI application failed to shut down: {message.error}"
                ) from message.error
            return
        if message["type"] == "lifespan.shutdown.failed":
            raise RuntimeError(
                f"ASGI application failed to shut down: {message.get('message', '')}"
            )

    async def _stop(self) -> None:
        task = self._task
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), 5)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
