"""nginx: HTTP/1.1 plain, TLS (h2 and http/1.1 by ALPN), h2c on its own port; gzip (and br
with Debian's brotli filter module); connections rotate every `keepalive_requests`."""

from __future__ import annotations

import os
import signal

from .daemon import Daemon, Server, free_port, require
from .features import Features
from .site import Site

BROTLI_MODULE = "/usr/lib/nginx/modules/ngx_http_brotli_filter_module.so"
MAX_REQUESTS = 50
MAX_STREAMS = 8
FEATURES = Features(
    modes=("h1", "h1-tls", "h2-tls", "h2c"),
    codings=("gzip", "br") if os.path.exists(BROTLI_MODULE) else ("gzip",),
    reload=True,
    max_requests=MAX_REQUESTS,
    max_streams=MAX_STREAMS,
)

_CONFIG = """\
daemon off;
master_process on;
worker_processes 2;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
{brotli_module}
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {work}/tmp-body;
    proxy_temp_path {work}/tmp-proxy;
    fastcgi_temp_path {work}/tmp-fastcgi;
    uwsgi_temp_path {work}/tmp-uwsgi;
    scgi_temp_path {work}/tmp-scgi;
    types {{ text/plain txt; application/octet-stream bin; }}
    default_type application/octet-stream;
    gzip on;
    gzip_types text/plain;
    {brotli}
    keepalive_requests {max_requests};
    http2_max_concurrent_streams {max_streams};
    client_max_body_size 0;
    root {docroot};
    server {{
        listen 127.0.0.1:{plain};
        listen 127.0.0.1:{tls} ssl http2;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location = /echo {{ proxy_pass http://127.0.0.1:{echo}; proxy_http_version 1.1; }}
    }}
    server {{
        listen 127.0.0.1:{h2c} http2;
        location = /echo {{ proxy_pass http://127.0.0.1:{echo}; proxy_http_version 1.1; }}
    }}
}}
"""


class Nginx(Server):
    """A running nginx; `reload()` is `nginx -s reload` (SIGHUP to the master)."""

    def __init__(self, site: Site) -> None:
        binary = require("nginx", "nginx")
        work = site.workdir / "nginx"
        work.mkdir()
        self.ports = {"plain": free_port(), "tls": free_port(), "h2c": free_port()}
        brotli = "br" in FEATURES.codings
        conf = work / "nginx.conf"
        conf.write_text(_CONFIG.format(
            work=work, docroot=site.docroot, cert=site.certfile, key=site.keyfile,
            echo=site.echo_port, max_requests=MAX_REQUESTS, max_streams=MAX_STREAMS,
            brotli_module=f"load_module {BROTLI_MODULE};" if brotli else "",
            brotli="brotli on; brotli_types text/plain;" if brotli else "",
            **self.ports,
        ))
        self.daemon = Daemon(
            "nginx", [binary, "-p", str(work), "-c", str(conf), "-e", str(work / "error.log")],
            work, list(self.ports.values()),
        )

    def reload(self) -> None:
        self.daemon.signal(signal.SIGHUP)
