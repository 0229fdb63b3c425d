from typing import Any

from cpqwest._parser import ResponseParser
from cpqwest._pool import RouteStats
from cpqwest._stamps import Stamps

class H1Core:
    """The sans-IO part of one HTTP/1.1 connection both drivers share."""

    key: Any
    idle_since: float
    closed: bool
    reused: bool
    close_after: bool
    stats: RouteStats | None
    stamps: Stamps | None
    setup: tuple[float | None, float | None, float | None] | None
    @property
    def parser(self) -> ResponseParser: ...
    @property
    def phase(self) -> int: ...
    @property
    def phase_name(self) -> str: ...
    @property
    def request_sent(self) -> bool: ...
    @property
    def got_bytes(self) -> bool: ...
    @property
    def error(self) -> BaseException | None: ...
    def reusable(self) -> bool: ...
    def close(self) -> None: ...

def frame_chunk(data: bytes | bytearray | memoryview) -> bytes: ...

class BodyFramer:
    """What a streamed request body puts on the wire, piece by piece."""

    def __init__(self, chunked: bool, length: int) -> None: ...
    def frame(self, chunk: object) -> bytes | bytearray | memoryview | None: ...
    def finish(self) -> bytes: ...
