"""Test servers for the pyqwest suite.

Everything here runs on loopback only, on background threads with their own event loops,
so the per-test client event loops (asyncio or uvloop) never share anything with a server.

- :mod:`servers.loop_thread` -- a daemon thread running an asyncio loop (``LoopThread``).
- :mod:`servers.kitchensink` -- the ASGI app of spec section 4 plus core helper endpoints.
- :mod:`servers.hypercorn_server` -- runs an ASGI app under hypercorn (plain / TLS / mTLS).
- :mod:`servers.scripted` -- a raw asyncio TCP/TLS server whose per-connection behaviour is a
  coroutine supplied by the test (misbehaving peers, RST, stalls, idle closes...).
"""

from .hypercorn_server import HypercornServer, serving
from .kitchensink import app as kitchensink_app
from .kitchensink import payload
from .loop_thread import LoopThread
from .scripted import Conn, RawRequest, ScriptedServer

__all__ = [
    "Conn",
    "HypercornServer",
    "LoopThread",
    "RawRequest",
    "ScriptedServer",
    "kitchensink_app",
    "payload",
    "serving",
]
