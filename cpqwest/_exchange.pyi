import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from cpqwest._pool import Pool, RouteStats
from cpqwest._protocol import H1Connection
from cpqwest._stamps import Stamps

# (status, notable header bits, reason, headers, body, trailers, stamps)
Message = tuple[
    int, int, bytes, list[tuple[str, str]], bytes, list[tuple[str, str]] | None, Stamps
]

class H1Pools:
    read_timeout: float | None
    stats: dict[Any, RouteStats]
    def __init__(
        self,
        connect: Callable[
            [asyncio.AbstractEventLoop, Any, Pool, float | None], Awaitable[H1Connection]
        ],
        idle_timeout: float | None,
        max_idle: int | None,
        read_timeout: float | None,
    ) -> None: ...
    def current_pool(self) -> Pool: ...
    def idle_by_key(self) -> dict[Any, int]: ...
    def detach(self) -> dict[asyncio.AbstractEventLoop, Pool]: ...
    def close(self) -> None: ...
    async def exchange(
        self,
        key: Any,
        head: bytes,
        body: Any,
        head_request: bool,
        buffered: bool,
        replayable: bool,
        chunked: bool,
        close_after: bool = False,
        length: int = -1,
        deadline: float | None = None,
    ) -> Any: ...
