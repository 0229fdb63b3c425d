import asyncio
from typing import Any

from cpqwest._parser import ResponseParser
from cpqwest._pool import PooledConnection

WAIT: object

class H1Connection(PooledConnection):
    transport: asyncio.Transport | None
    parser: ResponseParser
    request_sent: bool
    got_bytes: bool
    close_after: bool
    error: BaseException | None
    upload_task: asyncio.Task[None] | None
    def __init__(self, loop: asyncio.AbstractEventLoop, key: Any) -> None: ...
    def send_request(
        self,
        data: bytes,
        head_request: bool = False,
        buffered: bool = False,
        body_follows: bool = False,
        timeout: float | None = None,
        read_timeout: float | None = None,
    ) -> asyncio.Future[Any]: ...
    def write(self, data: bytes) -> None: ...
    def drain(self) -> asyncio.Future[None] | None: ...
    def end_request(self) -> None: ...
    def take_chunk(self) -> bytes | object | None: ...
    def wait_chunk(self) -> asyncio.Future[None]: ...
    def release(self) -> None: ...
    def abort(self, exc: BaseException | None = None) -> None: ...

class H1Protocol(H1Connection, asyncio.BufferedProtocol): ...
