"""Apache httpd (event MPM, mod_http2): HTTP/1.1 and h2c on the plain port, h2 and http/1.1
by ALPN on TLS; br then gzip; /echo is proxied to the echo backend (mod_reflector answers
HTTP/2 uploads with an empty body, curl's too); connections end after MaxKeepAliveRequests
or KeepAliveTimeout idle."""

from __future__ import annotations

import os
import signal

from .daemon import Daemon, Server, free_port, require
from .features import Features
from .site import Site

MAX_REQUESTS = 20
IDLE_TIMEOUT = 1
MAX_STREAMS = 8
FEATURES = Features(
    modes=("h1", "h1-tls", "h2-tls", "h2c"),
    codings=("gzip", "br"),
    reload=True,
    max_requests=MAX_REQUESTS,
    idle_timeout=IDLE_TIMEOUT,
    max_streams=MAX_STREAMS,
)
MODULES = (
    "mpm_event", "authz_core", "mime", "filter", "deflate", "brotli", "ssl",
    "socache_shmcb", "http2", "proxy", "proxy_http",
)

_CONFIG = """\
ServerRoot {work}
DefaultRuntimeDir {work}
PidFile {work}/httpd.pid
Mutex file:{work} default
ErrorLog {work}/error.log
LogLevel warn
ServerName 127.0.0.1
{modules}
{user}
Listen 127.0.0.1:{plain}
Listen 127.0.0.1:{tls}
TypesConfig /dev/null
AddType text/plain .txt
AddType application/octet-stream .bin
DocumentRoot {docroot}
<Directory {docroot}>
    Require all granted
</Directory>
ProxyPass /echo http://127.0.0.1:{echo}/echo
KeepAlive On
MaxKeepAliveRequests {max_requests}
KeepAliveTimeout {idle}
H2MaxSessionStreams {max_streams}
AddOutputFilterByType BROTLI_COMPRESS;DEFLATE text/plain
Protocols h2c http/1.1
SSLSessionCache shmcb:{work}/ssl_cache(512000)
<VirtualHost 127.0.0.1:{tls}>
    Protocols h2 http/1.1
    ProxyPass /echo http://127.0.0.1:{echo}/echo
    SSLEngine on
    SSLCertificateFile {cert}
    SSLCertificateKeyFile {key}
</VirtualHost>
"""


class Apache(Server):
    """A running httpd; `reload()` is `apachectl graceful` (SIGUSR1 to the parent)."""

    def __init__(self, site: Site) -> None:
        binary = require("apache2", "apache2")
        work = site.workdir / "apache"
        work.mkdir()
        self.ports = {"plain": free_port(), "tls": free_port()}
        self.ports["h2c"] = self.ports["plain"]
        conf = work / "httpd.conf"
        conf.write_text(_CONFIG.format(
            work=work, docroot=site.docroot, echo=site.echo_port,
            cert=site.certfile, key=site.keyfile,
            max_requests=MAX_REQUESTS, idle=IDLE_TIMEOUT, max_streams=MAX_STREAMS,
            modules="\n".join(
                f"LoadModule {m}_module /usr/lib/apache2/modules/mod_{m}.so" for m in MODULES
            ),
            # root may not serve: the children run as www-data
            user="User www-data\nGroup www-data" if os.geteuid() == 0 else "",
            **self.ports,
        ))
        self.daemon = Daemon(
            "apache", [binary, "-d", str(work), "-f", str(conf), "-DFOREGROUND"],
            work, [self.ports["plain"], self.ports["tls"]],
        )

    def reload(self) -> None:
        self.daemon.signal(signal.SIGUSR1)
