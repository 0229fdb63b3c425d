"""WSGITransport: a SyncTransport that calls a WSGI application in-process (API.md §3.3).

The app runs on a worker thread (a context-copying pool, so context variables such as the sync
deadline reach it) and hands its output to the caller through a small bounded `_Channel`; the
response starts with the app's first chunk (or its end), as PEP 3333 has servers send headers.
Closing the response closes the channel: the app's next write fails, its iterable is closed.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeAlias

from cpqwest._errors import ReadError, WriteError

from .._decompress import Decoder
from .._headers import Headers
from .._sync_request import SyncRequest
from .._sync_response import SyncResponse
from .._sync_timeout import sync_deadline
from .._version import HTTPVersion
from ._common import PLAIN_TEXT, SERVER_VERSION, body_decoder, sends_trailers, server_view

ExcInfo: TypeAlias = tuple[Any, Any, Any]
StartResponse: TypeAlias = Callable[..., Callable[[bytes], object]]
WSGIApp: TypeAlias = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

NO_START_RESPONSE = b"WSGI application did not call start_response"


class WSGITimeoutError(TimeoutError):
    """The app did not start its response before the sync deadline (or reported a timeout
    itself); `wait()` joins the app, which may still be running."""

    def __init__(self, message: str, app: Future[None] | None = None) -> None:
        super().__init__(message)
        self._app = app

    def wait(self, timeout: float | None = None) -> None:
        """Wait (at most `timeout` seconds; None: as long as it takes) for the app to end."""
        if self._app is not None:
            with contextlib.suppress(Exception):
                self._app.result(timeout)


class WSGIConnectionError(ConnectionError):
    """The app reported a connection failure (through `start_response`'s exc_info, or by
    raising) before its response started."""


class _ContextExecutor(ThreadPoolExecutor):
    """A thread pool whose tasks run in a copy of the submitter's context."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)


_default_executor: ThreadPoolExecutor | None = None
_default_lock = threading.Lock()


def _shared_executor() -> ThreadPoolExecutor:
    global _default_executor
    with _default_lock:
        if _default_executor is None:
            _default_executor = _ContextExecutor(thread_name_prefix="pyqwest-wsgi")
        return _default_executor


class _End:
    """The app is done: it returned (`error` None) or raised."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class _ChannelClosed(Exception):
    """The client closed the response: the app's output has nowhere to go."""


class _Channel:
    """App thread -> client thread: a few chunks in flight, then `_End`; closable from the
    client side, which makes the app's next `put` raise."""

    _SIZE = 8

    def __init__(self) -> None:
        self._items: deque[bytes | _End] = deque()
        self._cond = threading.Condition()
        self._closed = False

    def put(self, item: bytes | _End) -> None:
        with self._cond:
            while len(self._items) >= self._SIZE and not self._closed:
                self._cond.wait()
            if self._closed:
                raise _ChannelClosed("response closed")
            self._items.append(item)
            self._cond.notify_all()

    def get(self, deadline: float | None) -> bytes | _End:
        """The next item; TimeoutError once `deadline` (time.monotonic) passes."""
        with self._cond:
            while not self._items:
                if self._closed:
                    return _End(None)
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError("timed out")
                self._cond.wait(left)
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._items.clear()
            self._cond.notify_all()


class _Input(io.RawIOBase):
    """`wsgi.input`: the request body, read as the app asks for it. A failing request body is
    recorded (`error`) and raised to the app as WriteError."""

    def __init__(self, content: bytes | Iterator[bytes]) -> None:
        super().__init__()
        self._source: Iterator[bytes] = iter((content,)) if isinstance(content, bytes) else content
        self._buffer = bytearray()
        self._eof = False
        self.error: WriteError | None = None

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        """Pull one more chunk into the buffer; False at the end."""
        if self._eof:
            return False
        if self.error is not None:
            raise self.error
        try:
            chunk = next(self._source)
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise WriteError("Request not bytes object")
        except StopIteration:
            self._eof = True
            return False
        except WriteError as exc:
            self.error = exc
            raise
        except Exception as exc:
            self.error = WriteError(f"Request failed: {exc}")
            raise self.error from exc
        self._buffer += chunk
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            while self._fill():
                pass
            size = len(self._buffer)
        while len(self._buffer) < size and self._fill():
            pass
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        limit = None if size is None or size < 0 else size
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                end += 1
                break
            if limit is not None and len(self._buffer) >= limit:
                end = limit
                break
            if not self._fill():
                end = len(self._buffer)
                break
        if limit is not None:
            end = min(end, limit)
        out = bytes(self._buffer[:end])
        del self._buffer[:end]
        return out

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        lines: list[bytes] = []
        total = 0
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def close(self) -> None:
        if not self.closed:
            close = getattr(self._source, "close", None)
            if close is not None:
                with contextlib.suppress(ValueError):  # a generator running elsewhere
                    close()
        super().close()


class _Exchange:
    """One request through the app on a worker thread."""

    def __init__(self, app: WSGIApp, environ: dict[str, Any], body: _Input) -> None:
        self.channel = _Channel()
        self.input = body
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.exc_info: ExcInfo | None = None
        self._sent = False
        self._app = app
        self._environ = environ

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], object]:
        if exc_info is not None and self._sent:
            raise exc_info[1].with_traceback(exc_info[2])  # PEP 3333: too late to change
        self.status, self.headers, self.exc_info = status, list(headers), exc_info
        return self._write

    def _write(self, data: bytes) -> None:
        if data:
            self._sent = True
            self.channel.put(bytes(data))

    def run(self) -> None:
        try:
            result = self._app(self._environ, self.start_response)
            try:
                for chunk in result:
                    self._write(chunk)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except _ChannelClosed:
            return
        except Exception as exc:
            with contextlib.suppress(_ChannelClosed):
                self.channel.put(_End(exc))
        else:
            with contextlib.suppress(_ChannelClosed):
                self.channel.put(_End(None))
        finally:
            self.input.close()


class _WSGIBody:
    """The response body: the app's chunks, decoded; read errors as the spec has them."""

    def __init__(
        self, transport: WSGITransport, exchange: _Exchange, first: bytes | _End,
        decoder: Decoder | None, deadline: float | None,
    ) -> None:
        self._transport = transport
        self._exchange: _Exchange | None = exchange
        self._next: bytes | _End | None = first
        self._decoder = decoder
        self._deadline = deadline
        self._pending: list[bytes] = []

    def __iter__(self) -> _WSGIBody:
        return self

    def __next__(self) -> bytes:
        while not self._pending:
            exchange = self._exchange
            if exchange is None:
                raise StopIteration
            item, self._next = self._next, None
            if item is None:
                try:
                    item = exchange.channel.get(self._deadline)
                except TimeoutError as exc:
                    self.close()
                    raise TimeoutError("Error reading content: timed out") from exc
            if isinstance(item, _End):
                self._end(exchange, item.error)
            elif self._decoder is None:
                return item
            else:
                self._pending.extend(self._decoder.feed(item))
        return self._pending.pop(0)

    def _end(self, exchange: _Exchange, error: BaseException | None) -> None:
        self._exchange = None
        if error is None:
            if self._decoder is not None:
                self._pending.extend(self._decoder.finish())
            return
        if exchange.input.error is not None:
            raise exchange.input.error
        self._transport._app_exception = error
        raise ReadError(f"Error reading content: {error}") from error

    def close(self) -> None:
        exchange, self._exchange = self._exchange, None
        if exchange is not None:
            exchange.channel.close()


def _trailer_sink(trailers: Headers | None) -> Callable[[list[tuple[str, str]]], None]:
    """`wsgi.ext.http.send_trailers`: adds to the response trailers, or drops them when the
    client can't get any."""

    def send_trailers(pairs: list[tuple[str, str]]) -> None:
        if trailers is not None:
            for name, value in pairs:
                trailers.add(name, value)

    return send_trailers


class WSGITransport:
    """A `SyncTransport` that calls a WSGI application in-process: for tests.

    The app runs on `executor` (default: a shared thread pool that copies context variables);
    the sync deadline (`get_sync_timeout()`) bounds the wait for its response and body.
    `http_version` is what `SERVER_PROTOCOL` says and decides trailers (HTTP/2 only, for
    requests with `te: trailers`, sent by the app through `wsgi.ext.http.send_trailers`);
    `client` is `REMOTE_ADDR`/`REMOTE_PORT`.
    """

    def __init__(
        self,
        app: WSGIApp,
        http_version: HTTPVersion = HTTPVersion.HTTP2,
        client: tuple[str, int] = ("127.0.0.1", 111),
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        self._app = app
        self._http_version = http_version
        self._client = client
        self._executor = executor
        self._errors = io.StringIO()
        self._app_exception: BaseException | None = None

    @property
    def app_exception(self) -> BaseException | None:
        """The last exception the app raised (a 500 response or a failed body stands for it)."""
        return self._app_exception

    @property
    def error_stream(self) -> io.StringIO:
        """What the app wrote to `wsgi.errors`."""
        return self._errors

    def _environ(
        self, request: SyncRequest, body: _Input, trailers: Headers | None
    ) -> dict[str, Any]:
        view = server_view(request)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            # PEP 3333: the decoded path's bytes, as latin-1 text
            "PATH_INFO": view.path.encode("utf-8").decode("latin-1"),
            "QUERY_STRING": view.query,
            "SERVER_NAME": view.host,
            "SERVER_PORT": str(view.port),
            "SERVER_PROTOCOL": f"HTTP/{SERVER_VERSION[self._http_version]}",
            "REMOTE_ADDR": self._client[0],
            "REMOTE_PORT": str(self._client[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": view.scheme,
            "wsgi.input": body,
            "wsgi.input_terminated": True,  # read to EOF: no Content-Length needed
            "wsgi.errors": self._errors,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.ext.http.send_trailers": _trailer_sink(trailers),
        }
        for name, value in view.headers:
            if name in ("content-type", "content-length"):
                key = name.upper().replace("-", "_")
            else:
                key = "HTTP_" + name.upper().replace("-", "_")
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        if isinstance(request.content, bytes) and "CONTENT_LENGTH" not in environ:
            environ["CONTENT_LENGTH"] = str(len(request.content))
        return environ

    def execute_sync(self, request: SyncRequest) -> SyncResponse:
        """Run `request` through the app; returns once the app started its response."""
        deadline = sync_deadline()
        body = _Input(request.content)
        trailers = Headers() if sends_trailers(self._http_version, request) else None
        exchange = _Exchange(self._app, self._environ(request, body, trailers), body)
        executor = self._executor or _shared_executor()
        future: Future[None] = executor.submit(exchange.run)
        try:
            first = exchange.channel.get(deadline)
        except TimeoutError:
            exchange.channel.close()
            raise WSGITimeoutError(
                "WSGI application did not start its response in time", future
            ) from None
        failure = self._failure(exchange, first, future)
        if failure is not None:
            exchange.channel.close()
            return failure
        headers = Headers(exchange.headers)
        assert exchange.status is not None
        return SyncResponse(
            status=int(exchange.status.split(" ", 1)[0]),
            http_version=self._http_version,
            headers=headers,
            content=_WSGIBody(self, exchange, first, body_decoder(headers), deadline),
            trailers=trailers,
        )

    def _failure(
        self, exchange: _Exchange, first: bytes | _End, future: Future[None]
    ) -> SyncResponse | None:
        """The response (or the raise) for an app that failed before its response started;
        None when it did start."""
        if exchange.input.error is not None:
            raise exchange.input.error
        error = exchange.exc_info[1] if exchange.exc_info is not None else None
        if error is None and isinstance(first, _End) and first.error is not None:
            error = first.error
        if error is None:
            if exchange.status is not None:
                return None
            text = NO_START_RESPONSE
        else:
            self._app_exception = error
            if isinstance(error, TimeoutError):
                raise WSGITimeoutError(str(error), future) from error
            if isinstance(error, ConnectionError):
                raise WSGIConnectionError(str(error)) from error
            text = str(error).encode()
        return SyncResponse(
            status=500, http_version=self._http_version, headers=Headers(PLAIN_TEXT),
            content=text,
        )
