"""HTTP/2 on top of the h2 library: a connection protocol, its streams, per-loop pools.

One `H2Connection` (an `asyncio.Protocol`) per origin carries many concurrent streams
(connection.py); each request/response is an `H2Stream` (stream.py), which offers the
body-consumer interface `_WireContent` uses on an HTTP/1.1 connection (`take_chunk`,
`wait_chunk`, `release`, `abort`, `parser.trailers`...), so an HTTP/2 response goes through the
same `Response` code path. `H2Pools` (pool.py) keeps the connections of a transport, per event
loop; cpqwest/_h2fields.pyx checks response heads and trailers (request header lists come
from the request-head policy, cpqwest/_reqhead.pyx); errors.py words and maps HTTP/2 errors;
core.py holds the sans-IO stream state, windows and SETTINGS both drivers (this asyncio one
and pyqwest._sync_h2) share; resend.py chooses where a refused stream goes again and learns
servers' per-connection stream limits; library.py adapts h2 and hpack.
"""

from .connection import ALPNNegotiator, H2Connection
from .pool import H2Pools
from .stream import H2Stream

__all__ = ["ALPNNegotiator", "H2Connection", "H2Pools", "H2Stream"]
