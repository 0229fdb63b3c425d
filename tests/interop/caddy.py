"""caddy: HTTP/1.1 and h2c on the plain port, h2 and http/1.1 by ALPN on TLS, HTTP/3 (quic-go)
on the TLS port's UDP twin; zstd and gzip;
/echo proxied to the echo backend; `reload()` goes through its admin API (`caddy reload`)."""

from __future__ import annotations

import subprocess

from .daemon import Daemon, Server, free_port, require
from .features import Features
from .site import Site

IDLE_TIMEOUT = 1
FEATURES = Features(
    modes=("h1", "h1-tls", "h2-tls", "h2c", "h3"),
    codings=("gzip", "zstd"),
    reload=True,
    idle_timeout=IDLE_TIMEOUT,
)

_SITE = """\
    root * {docroot}
    encode zstd gzip
    reverse_proxy /echo 127.0.0.1:{echo}
    file_server
"""
_CONFIG = """\
{{
    admin 127.0.0.1:{admin}
    auto_https off
    storage file_system {work}/data
    servers {{
        protocols h1 h2 h2c h3
        timeouts {{
            idle {idle}s
        }}
    }}
}}
http://127.0.0.1:{plain} {{
{site}}}
https://127.0.0.1:{tls} {{
    tls {cert} {key}
{site}}}
"""


class Caddy(Server):
    """A running caddy."""

    def __init__(self, site: Site) -> None:
        self._binary = require("caddy", "caddy")
        work = site.workdir / "caddy"
        work.mkdir()
        self.ports = {"plain": free_port(), "tls": free_port(), "admin": free_port()}
        self.ports["h2c"] = self.ports["plain"]
        self._conf = work / "Caddyfile"
        self._conf.write_text(_CONFIG.format(
            work=work, cert=site.certfile, key=site.keyfile, idle=IDLE_TIMEOUT,
            site=_SITE.format(docroot=site.docroot, echo=site.echo_port), **self.ports,
        ))
        # caddy keeps state under $HOME / $XDG_*: keep it in the work dir
        self._env = {"HOME": str(work), "XDG_DATA_HOME": str(work), "XDG_CONFIG_HOME": str(work)}
        self.daemon = Daemon(
            "caddy", [self._binary, "run", "--config", str(self._conf), "--adapter", "caddyfile"],
            work, [self.ports["plain"], self.ports["tls"]], env=self._env,
        )

    def reload(self) -> None:
        subprocess.run(
            [self._binary, "reload", "--config", str(self._conf), "--adapter", "caddyfile",
             "--address", f"127.0.0.1:{self.ports['admin']}", "--force"],
            check=True, capture_output=True, timeout=30, env=self._env,
        )
