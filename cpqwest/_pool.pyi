import asyncio
from typing import Any

class RouteStats:
    opened: int
    reused: int
    closed: int
    closed_error: int
    closed_idle: int

def opened_on(table: dict[Any, RouteStats], key: Any) -> RouteStats: ...

class PooledConnection:
    key: Any
    stats: RouteStats | None
    pool: Pool | None
    idle_since: float
    closed: bool
    reused: bool
    def close(self) -> None: ...

class Pool:
    closed: bool
    stats: dict[Any, RouteStats]
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        idle_timeout: float | None,
        max_idle: int | None,
        stats: dict[Any, RouteStats] | None = None,
    ) -> None: ...
    def adopt(self, conn: PooledConnection) -> None: ...
    def idle_by_key(self) -> dict[Any, int]: ...
    def checkout(self, key: Any) -> PooledConnection | None: ...
    def checkin(self, conn: PooledConnection) -> None: ...
    def idle_count(self, key: Any = None) -> int: ...
    def open_count(self) -> int: ...
    def close(self) -> None: ...
