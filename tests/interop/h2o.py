"""h2o: HTTP/1.1 and h2c on the plain port, h2 and http/1.1 by ALPN on TLS; gzip and br;
/echo proxied to the echo backend; master mode, so SIGHUP is a graceful restart."""

from __future__ import annotations

import os
import signal

from .daemon import Daemon, Server, free_port, require
from .features import Features
from .site import Site

IDLE_TIMEOUT = 1
FEATURES = Features(
    modes=("h1", "h1-tls", "h2-tls", "h2c"),
    codings=("gzip", "br"),
    reload=True,
    idle_timeout=IDLE_TIMEOUT,
)

_CONFIG = """\
pid-file: {work}/h2o.pid
error-log: {work}/error.log
{user}
num-threads: 2
http1-request-timeout: {idle}
http2-idle-timeout: {idle}
compress: ON
listen:
  host: 127.0.0.1
  port: {plain}
listen:
  host: 127.0.0.1
  port: {tls}
  ssl:
    certificate-file: {cert}
    key-file: {key}
    ocsp-update-interval: 0  # no OCSP fetches: nothing leaves loopback
hosts:
  default:
    paths:
      /echo:
        proxy.reverse.url: http://127.0.0.1:{echo}/echo
      /:
        file.dir: {docroot}
"""


class H2o(Server):
    """A running h2o (master process and its server)."""

    def __init__(self, site: Site) -> None:
        binary = require("h2o", "h2o")
        work = site.workdir / "h2o"
        work.mkdir()
        self.ports = {"plain": free_port(), "tls": free_port()}
        self.ports["h2c"] = self.ports["plain"]
        conf = work / "h2o.conf"
        conf.write_text(_CONFIG.format(
            work=work, docroot=site.docroot, echo=site.echo_port, idle=IDLE_TIMEOUT,
            cert=site.certfile, key=site.keyfile,
            user="user: www-data" if os.geteuid() == 0 else "",  # h2o will not serve as root
            plain=self.ports["plain"], tls=self.ports["tls"],
        ))
        self.daemon = Daemon(
            "h2o", [binary, "-m", "master", "-c", str(conf)], work,
            [self.ports["plain"], self.ports["tls"]],
        )

    def reload(self) -> None:
        self.daemon.signal(signal.SIGHUP)
