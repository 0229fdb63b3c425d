"""nghttpd (nghttp2's server): HTTP/2 only, one process on TLS (ALPN h2) and one for h2c;
`--echo-upload` answers POST with the body it received; 8 concurrent streams."""

from __future__ import annotations

from .daemon import Daemon, free_port, require
from .features import Features
from .site import Site

MAX_STREAMS = 8
# it serves neither ETag nor ranges
FEATURES = Features(modes=("h2-tls", "h2c"), etag=False, ranges=False, max_streams=MAX_STREAMS)


class Nghttpd:
    """The two nghttpd processes (TLS and h2c)."""

    def __init__(self, site: Site) -> None:
        binary = require("nghttpd", "nghttp2-server")
        work = site.workdir / "nghttpd"
        work.mkdir()
        self.ports = {"tls": free_port(), "h2c": free_port()}
        common = [binary, "-a", "127.0.0.1", "-d", str(site.docroot), "--echo-upload",
                  f"--max-concurrent-streams={MAX_STREAMS}"]
        self.daemons = [
            Daemon("nghttpd-tls", [*common, str(self.ports["tls"]), site.keyfile, site.certfile],
                   work, [self.ports["tls"]]),
        ]
        try:
            self.daemons.append(Daemon(
                "nghttpd-h2c", [*common, "--no-tls", str(self.ports["h2c"])],
                work, [self.ports["h2c"]],
            ))
        except RuntimeError:
            self.stop()
            raise

    def stop(self) -> None:
        for daemon in self.daemons:
            daemon.stop()
