"""A UDP relay on 127.0.0.1 between QUIC clients and a server, which drops datagrams on purpose.

Each client address gets its own upstream socket, so several QUIC connections pass through one
relay. ``drop(direction, n)`` decides per datagram (``direction`` is ``"up"`` towards the server
or ``"down"`` towards the client, ``n`` counts the datagrams of that direction from 1);
``vanish()`` drops everything from then on: a server that stops answering.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from .loop_thread import LoopThread

Drop = Callable[[str, int], bool]


class _Upstream(asyncio.DatagramProtocol):
    def __init__(self, relay: UdpRelay, client: Any) -> None:
        self.relay = relay
        self.client = client
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.relay._forward("down", data, self.client)


class _Front(asyncio.DatagramProtocol):
    def __init__(self, relay: UdpRelay) -> None:
        self.relay = relay

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.relay._from_client(data, addr)


class UdpRelay:
    """Relays datagrams between clients and ``127.0.0.1:target_port``, dropping some."""

    def __init__(self, loop_thread: LoopThread, target_port: int, drop: Drop | None = None):
        self._lt = loop_thread
        self.target = ("127.0.0.1", target_port)
        self.drop: Drop = drop or (lambda direction, n: False)
        self.counts = {"up": 0, "down": 0}
        self.dropped = {"up": 0, "down": 0}
        self.port = 0
        self._front: asyncio.DatagramTransport | None = None
        self._ups: dict[Any, _Upstream] = {}
        self._pending: dict[Any, list[bytes]] = {}
        self._opening: set[asyncio.Future[None]] = set()

    def start(self) -> UdpRelay:
        async def _start() -> None:
            loop = asyncio.get_running_loop()
            self._front, _ = await loop.create_datagram_endpoint(
                lambda: _Front(self), local_addr=("127.0.0.1", 0)
            )
            self.port = self._front.get_extra_info("sockname")[1]

        self._lt.run(_start())
        return self

    def vanish(self) -> None:
        """Drop every datagram from now on, both ways."""
        self.drop = lambda direction, n: True

    def stop(self) -> None:
        async def _stop() -> None:
            for up in self._ups.values():
                if up.transport is not None:
                    up.transport.close()
            if self._front is not None:
                self._front.close()

        self._lt.run(_stop())

    def _forward(self, direction: str, data: bytes, client: Any) -> None:
        self.counts[direction] += 1
        if self.drop(direction, self.counts[direction]):
            self.dropped[direction] += 1
            return
        if direction == "down":
            assert self._front is not None
            self._front.sendto(data, client)
            return
        up = self._ups.get(client)
        if up is not None and up.transport is not None:
            up.transport.sendto(data)
        else:
            self._pending.setdefault(client, []).append(data)

    def _from_client(self, data: bytes, client: Any) -> None:
        if client not in self._ups:
            up = self._ups[client] = _Upstream(self, client)
            self._pending[client] = []
            task = asyncio.ensure_future(self._open(up))
            self._opening.add(task)
            task.add_done_callback(self._opening.discard)
        self._forward("up", data, client)

    async def _open(self, up: _Upstream) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: up, remote_addr=self.target)
        assert up.transport is not None
        for data in self._pending.pop(up.client, []):
            up.transport.sendto(data)
