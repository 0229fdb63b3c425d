import asyncio
from typing import Any

class PooledConnection:
    key: Any
    pool: Pool | None
    idle_since: float
    closed: bool
    reused: bool
    def close(self) -> None: ...

class Pool:
    closed: bool
    def __init__(
        self, loop: asyncio.AbstractEventLoop, idle_timeout: float | None, max_idle: int | None
    ) -> None: ...
    def checkout(self, key: Any) -> PooledConnection | None: ...
    def checkin(self, conn: PooledConnection) -> None: ...
    def idle_count(self, key: Any = None) -> int: ...
    def close(self) -> None: ...
