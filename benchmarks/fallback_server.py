"""Fallback HTTP/1.1 server (plain and TLS) for machines without nginx, and for the smoke test.

Stdlib asyncio (uvloop when importable), fixed pre-built responses, keep-alive. It runs Python per
request, so it is slower than nginx: the runner reports its CPU share so a saturated server shows.
HTTP/2 listeners are not offered: those scenarios report n/a under this server.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import ssl
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenarios import BIG_SIZE, BODY_SIZES, TINY_BODY


def _response(body: bytes, status: str = "200 OK") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nServer: bench-fallback\r\nContent-Type: application/octet-stream"
        f"\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


ROUTES = {
    b"/tiny": _response(TINY_BODY),
    b"/upload": _response(TINY_BODY),
    b"/1m": _response(bytes(range(256)) * (BIG_SIZE // 256)),
    b"/proto": _response(b"http/1"),
    # --scaling's bodies, up to 1 MiB (kept in memory here; nginx serves them all from files)
    **{
        f"/bytes/{n}".encode(): _response(bytes(range(256)) * (n // 256))
        for n in BODY_SIZES
        if n <= BIG_SIZE
    },
}
NOT_FOUND = _response(b"not found", "404 Not Found")


class HTTPServerProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = b""
        self.body_left = 0  # request body bytes still to discard
        self.reply = b""

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        while data:
            if self.body_left:
                take = min(self.body_left, len(data))
                self.body_left -= take
                data = data[take:]
                if not self.body_left:
                    self.transport.write(self.reply)
                continue
            buf = self.buf + data
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            self.buf = b""
            head, data = buf[:end], buf[end + 4 :]
            path = head.split(b" ", 2)[1]
            self.reply = ROUTES.get(path, NOT_FOUND)
            at = head.lower().find(b"\r\ncontent-length:")
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                self.body_left = int(head[at + 17 : stop if stop >= 0 else None])
            if not self.body_left:
                self.transport.write(self.reply)


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    servers = [await loop.create_server(HTTPServerProtocol, "127.0.0.1", args.plain)]
    if args.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)
        ctx.set_alpn_protocols(["http/1.1"])
        servers.append(await loop.create_server(HTTPServerProtocol, "127.0.0.1", args.tls, ssl=ctx))
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    await stop
    for s in servers:
        s.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--plain", type=int, required=True)
    p.add_argument("--tls", type=int, default=0)
    p.add_argument("--cert")
    p.add_argument("--key")
    args = p.parse_args()
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(serve(args))


if __name__ == "__main__":
    main()
