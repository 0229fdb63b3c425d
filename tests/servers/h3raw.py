"""A raw HTTP/3 server (aioquic) on 127.0.0.1 whose behaviour per request is the test's: answer,
reset the stream, send GOAWAY, close the connection, or say nothing.

``handler(conn, stream_id, headers)`` is called for each request head (``headers`` a dict of
str); it uses ``conn.respond``, ``conn.raw`` (bytes of its own framing), ``conn.reset``,
``conn.goaway``, ``conn.close``.
``conn.index`` numbers the QUIC connections from 0; ``server.requests`` counts request heads;
``request_client_cert`` asks clients for a certificate (``conn.peer_subject``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aioquic.asyncio import QuicConnectionProtocol, serve
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ProtocolNegotiated

from .loop_thread import LoopThread

Handler = Callable[["RawH3Conn", int, dict[str, str]], None]


class RawH3Conn(QuicConnectionProtocol):
    """One QUIC connection of the server."""

    def __init__(self, *args: Any, server: H3RawServer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.server = server
        self.index = server.connections
        server.connections += 1
        self.h3: H3Connection | None = None
        if server.request_client_cert:
            # aioquic asks for a client certificate only when told through its TLS context,
            # which exists from the first datagram on
            initialize = self._quic._initialize

            def _initialize(peer_cid: bytes) -> None:
                initialize(peer_cid)
                self._quic.tls._request_client_certificate = True

            self._quic._initialize = _initialize  # type: ignore[method-assign]

    @property
    def peer_subject(self) -> str | None:
        """The client certificate's subject (RFC 4514), None without one."""
        cert = self._quic.tls._peer_certificate
        return None if cert is None else cert.subject.rfc4514_string()

    def quic_event_received(self, event: Any) -> None:
        if isinstance(event, ProtocolNegotiated):
            self.h3 = H3Connection(self._quic)
        if self.h3 is None:
            return
        for ev in self.h3.handle_event(event):
            if isinstance(ev, HeadersReceived):
                self.server.requests += 1
                headers = {k.decode(): v.decode() for k, v in ev.headers}
                self.server.handler(self, ev.stream_id, headers)

    def respond(
        self, stream_id: int, status: int = 200, body: bytes = b"",
        headers: list[tuple[bytes, bytes]] | None = None, end: bool = True,
        trailers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        assert self.h3 is not None
        head = [(b":status", str(status).encode()), *(headers or [])]
        self.h3.send_headers(stream_id, head, end_stream=end and not body and not trailers)
        if body:
            self.h3.send_data(stream_id, body, end_stream=end and not trailers)
        if trailers:
            self.h3.send_headers(stream_id, trailers, end_stream=True)
        self.transmit()

    def raw(self, stream_id: int, data: bytes, end: bool = True) -> None:
        """Bytes on a request stream as they are: frames the test made, broken or not."""
        self._quic.send_stream_data(stream_id, data, end)
        self.transmit()

    def reset(self, stream_id: int, code: int) -> None:
        self._quic.reset_stream(stream_id, code)
        self.transmit()

    def goaway(self, stream_id: int) -> None:
        """GOAWAY: requests on `stream_id` and above are not processed."""
        assert self.h3 is not None
        control = self.h3._local_control_stream_id
        assert control is not None
        # GOAWAY frame: type 0x07, length, stream id (varints; ids < 16384 fit in 2 bytes)
        self._quic.send_stream_data(control, bytes([0x07, 2, 0x40 | stream_id >> 8,
                                                    stream_id & 0xFF]))
        self.transmit()

    def close(self, code: int = 0x102, reason: str = "closed by the test") -> None:
        self._quic.close(error_code=code, reason_phrase=reason)
        self.transmit()


class H3RawServer:
    """A QUIC server on 127.0.0.1 (ephemeral UDP port) running ``handler`` per request."""

    def __init__(
        self, loop_thread: LoopThread, certfile: str, keyfile: str, handler: Handler,
        request_client_cert: bool = False,
    ) -> None:
        self._lt = loop_thread
        self.handler = handler
        self.request_client_cert = request_client_cert
        self.connections = 0
        self.requests = 0
        self.port = 0
        self._config = QuicConfiguration(alpn_protocols=H3_ALPN, is_client=False)
        self._config.load_cert_chain(certfile, keyfile)
        self._server: Any = None

    def start(self) -> H3RawServer:
        async def _start() -> None:
            self._server = await serve(
                "127.0.0.1", 0, configuration=self._config,
                create_protocol=lambda *a, **k: RawH3Conn(*a, server=self, **k),
            )
            self.port = self._server._transport.get_extra_info("sockname")[1]

        self._lt.run(_start())
        return self

    def stop(self) -> None:
        async def _stop() -> None:
            self._server.close()

        self._lt.run(_stop())
