"""The server under the benchmark: nginx when it is (or can be) installed, else granian, else the
stdlib fallback (HTTP/1.1 only). HTTP/3 (none of those serves it here: Debian's nginx 1.22 has
no QUIC) comes from caddy (Go, quic-go) when it is installed or installable, beside the first.

Started on 127.0.0.1 only, pinned to its own CPU so it never competes with the client being
measured. The drivers sample its CPU (via the pids given here) to show it was never the bottleneck.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from certs import Certs
from scenarios import BIG_SIZE, BODY_SIZES, TINY_BODY

HERE = Path(__file__).resolve().parent
LISTENERS = ("plain", "tls", "h2tls", "h2c")  # nginx's; caddy adds "h3"


def pinned(cpu: int | None):
    """A preexec_fn pinning the child to one CPU (None: no pinning, e.g. on a 1-CPU machine)."""
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(
    urls: dict[str, str], procs: list[subprocess.Popen], what: str, timeout: float = 15
) -> None:
    """Until every listener accepts a connection; fails early if a server process died."""
    deadline = time.monotonic() + timeout
    for url in urls.values():
        port = int(url.rsplit(":", 1)[1])
        while True:
            dead = [p for p in procs if p.poll() is not None]
            if dead:
                raise RuntimeError(f"{what} exited with {dead[0].returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{what} is not listening on 127.0.0.1:{port}") from None
                time.sleep(0.05)


def tree_pids(pid: int) -> list[int]:
    """pid and all its descendants (granian serves from worker processes it forks)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            todo += [int(c) for c in task.read_text().split()]
    return out


@dataclass
class Server:
    name: str  # e.g. "nginx 1.22.1 (one process)"
    procs: list[subprocess.Popen]
    urls: dict[str, str]  # listener -> base URL; a missing listener means n/a
    pids: list[int] = field(default_factory=list)  # every process that serves: CPU sampled
    proxy: str | None = None  # http:// URL of the CONNECT proxy in front of it, if one runs
    no_proxy_why: str = "no CONNECT proxy started"  # what the proxied rows say otherwise

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def find_nginx(install: bool) -> str | None:
    return find_debian_binary("nginx", install)


def find_debian_binary(name: str, install: bool) -> str | None:
    """The path of `name`, installing Debian's package of that name when missing (as root)."""
    found = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/local/sbin/{name}") if os.path.exists(p)), None
    )
    if found or not install or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    print(f"{name} not found: installing Debian's package (apt-get) ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", name]):
        if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
            return None
    sbin = f"/usr/sbin/{name}"
    return shutil.which(name) or (sbin if os.path.exists(sbin) else None)


NGINX_CONF = """\
# One process, no daemon: the runner owns it, pins it, and samples its CPU.
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 8192;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    default_type application/octet-stream;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    sendfile on;
    tcp_nodelay on;
    # never close a benchmark connection: reconnects would be measured as client cost
    keepalive_requests 1000000000;
    keepalive_timeout 600s;
    client_max_body_size 64m;
    # --scaling puts up to 1024 streams on one connection
    http2_max_concurrent_streams 1024;
    ssl_certificate {chain};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    # /proto's body length tells the driver which protocol we saw (scenarios.PROTO_LEN)
    map $server_protocol $proto_body {{ "HTTP/2.0" "h2"; default "http/1"; }}
    server {{ listen 127.0.0.1:{plain}; include {dir}/routes.conf; }}
    server {{ listen 127.0.0.1:{tls} ssl; include {dir}/routes.conf; }}
    server {{ listen 127.0.0.1:{h2tls} ssl http2; include {dir}/routes.conf; }}
    server {{ listen 127.0.0.1:{h2c} http2; include {dir}/routes.conf; }}
}}
"""
NGINX_ROUTES = """\
location = /tiny {{ return 200 "{tiny}"; }}
location = /1m {{ alias {dir}/www/1m.bin; }}
location /bytes/ {{ alias {dir}/www/bytes/; }}  # /bytes/<n>: n bytes (scenarios.BODY_SIZES)
# `return` discards the request body: an upload sink with no disk or Python involved
location = /upload {{ return 200 "{tiny}"; }}
location = /proto {{ return 200 $proto_body; }}
"""


def start_nginx(binary: str, workdir: Path, certs: Certs, cpu: int | None) -> Server:
    d = workdir / "nginx"
    for sub in ("tmp", "www"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    (d / "www/bytes").mkdir(exist_ok=True)
    for path, size in [(d / "www/1m.bin", BIG_SIZE)] + [
        (d / "www/bytes" / str(n), n) for n in BODY_SIZES
    ]:
        if not path.exists() or path.stat().st_size != size:
            path.write_bytes(bytes(range(256)) * (size // 256))
    ports = {name: free_port() for name in LISTENERS}
    (d / "routes.conf").write_text(NGINX_ROUTES.format(dir=d, tiny=TINY_BODY.decode()))
    (d / "nginx.conf").write_text(
        NGINX_CONF.format(dir=d, chain=certs.chain, key=certs.key, **ports)
    )
    version = subprocess.run([binary, "-v"], capture_output=True, text=True).stderr.strip()
    proc = subprocess.Popen(
        [binary, "-p", str(d), "-c", str(d / "nginx.conf"), "-e", str(d / "error.log")],
        preexec_fn=pinned(cpu),
        stdin=subprocess.DEVNULL,
    )
    urls = {
        "plain": f"http://127.0.0.1:{ports['plain']}",
        "tls": f"https://127.0.0.1:{ports['tls']}",
        "h2tls": f"https://127.0.0.1:{ports['h2tls']}",
        "h2c": f"http://127.0.0.1:{ports['h2c']}",
    }
    wait_listening(urls, [proc], "nginx")
    name = version.split(":", 1)[-1].strip().replace("/", " ") + " (one process)"
    return Server(name, [proc], urls, [proc.pid])


CADDY_CONF = """\
{{
    admin off
    # clients that send no SNI for an IP address (rustls) still get the certificate
    default_sni 127.0.0.1
    auto_https off
    storage file_system {dir}/data
    servers {{
        protocols h1 h2 h3
    }}
}}
https://127.0.0.1:{port} {{
    tls {chain} {key}
    # /proto's body length tells the driver which protocol we saw (scenarios.PROTO_LEN)
    map {{http.request.proto}} {{proto_body}} {{
        HTTP/3.0 h3-quic
        default other
    }}
    respond /tiny "{tiny}" 200
    respond /proto "{{proto_body}}" 200
}}
"""


def add_h3(server: Server, workdir: Path, certs: Certs, cpu: int | None) -> None:
    """Give `server` an "h3" listener: caddy on one CPU (HTTP/3 on UDP, h1/h2 on TCP of the
    same port), when it is installed or installable; else the HTTP/3 rows are n/a."""
    binary = find_debian_binary("caddy", install=True)
    if binary is None:
        print("caddy unavailable: no HTTP/3 listener", flush=True)
        return
    d = workdir / "caddy"
    d.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = d / "Caddyfile"
    conf.write_text(CADDY_CONF.format(
        dir=d, port=port, chain=certs.chain, key=certs.key, tiny=TINY_BODY.decode()
    ))
    # caddy keeps its state under $HOME / $XDG_*: all in the work dir
    env = {**os.environ, "HOME": str(d), "XDG_DATA_HOME": str(d), "XDG_CONFIG_HOME": str(d)}
    proc = subprocess.Popen(
        [binary, "run", "--config", str(conf), "--adapter", "caddyfile"],
        preexec_fn=pinned(cpu), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=(d / "caddy.log").open("w"), env=env,
    )
    url = f"https://127.0.0.1:{port}"
    wait_listening({"h3": url}, [proc], "caddy")
    version = subprocess.run([binary, "version"], capture_output=True, text=True).stdout.split()
    server.procs.append(proc)
    server.pids.append(proc.pid)
    server.urls["h3"] = url
    server.name += f"; HTTP/3: caddy {version[0] if version else ''} (quic-go, one CPU)"


TINYPROXY_CONF = """\
# The benchmark's CONNECT proxy: loopback only, no ConnectPort line (every port may be tunnelled),
# idle tunnels kept as long as nginx keeps its connections.
Listen 127.0.0.1
Port {port}
Timeout 600
MaxClients 2048
Allow 127.0.0.1
DisableViaHeader Yes
LogLevel Warning
LogFile "{dir}/tinyproxy.log"
PidFile "{dir}/tinyproxy.pid"
"""


def add_proxy(server: Server, workdir: Path, cpu: int | None) -> None:
    """Put tinyproxy (Debian's, installed when root and missing) in front of `server`, on the
    server's CPU; else the proxied rows are n/a with the reason."""
    binary = find_debian_binary("tinyproxy", install=True)
    if binary is None:
        server.no_proxy_why = "tinyproxy is not installed and could not be (needs root + apt-get)"
        print(f"{server.no_proxy_why}: no proxied rows", flush=True)
        return
    d = workdir / "tinyproxy"
    d.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = d / "tinyproxy.conf"
    user = "User nobody\nGroup nogroup\n" if os.geteuid() == 0 else ""  # it refuses to stay root
    conf.write_text(user + TINYPROXY_CONF.format(dir=d, port=port))
    if os.geteuid() == 0:
        os.chmod(d, 0o777)  # its log and pid file, written after it dropped to nobody
    proc = subprocess.Popen(
        [binary, "-d", "-c", str(conf)],
        preexec_fn=pinned(cpu), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=(d / "stderr.log").open("w"),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_listening({"proxy": url}, [proc], "tinyproxy")
    server.procs.append(proc)
    server.pids.append(proc.pid)
    server.proxy = url
    version = subprocess.run([binary, "-v"], capture_output=True, text=True).stdout.split()
    server.name += f"; CONNECT proxy: tinyproxy {version[-1] if version else ''} (same CPU)"


def start_granian(granian: str, certs: Certs, cpu: int | None) -> Server:
    """granian (Rust HTTP, RSGI app): one single-worker process per listener."""
    tls = [
        "--ssl-certificate",
        str(certs.chain),
        "--ssl-keyfile",
        str(certs.key),
        "--ssl-protocol-min",
        "tls1.2",
    ]
    listeners = {"plain": ("1", []), "tls": ("1", tls), "h2tls": ("2", tls), "h2c": ("2", [])}
    procs, urls = [], {}
    for name, (http, extra) in listeners.items():
        port = free_port()
        cmd = [
            granian,
            "--interface",
            "rsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--http",
            http,
            "--workers",
            "1",
            "--runtime-threads",
            "1",
            "--no-ws",
            "--log-level",
            "warning",
            "--working-dir",
            str(HERE),
            *extra,
            "granian_app:app",
        ]
        procs.append(subprocess.Popen(cmd, preexec_fn=pinned(cpu), stdin=subprocess.DEVNULL))
        urls[name] = f"{'https' if extra else 'http'}://127.0.0.1:{port}"
    wait_listening(urls, procs, "granian")
    version = subprocess.run([granian, "--version"], capture_output=True, text=True).stdout
    pids = [p for proc in procs for p in tree_pids(proc.pid)]
    name = f"{version.strip() or 'granian'} (RSGI app, one worker per listener)"
    return Server(name, procs, urls, pids)


def start_fallback(python: str, certs: Certs | None, cpu: int | None) -> Server:
    """The stdlib/uvloop HTTP/1.1 server in `python` (plain, plus TLS when certs are given)."""
    plain = free_port()
    cmd = [python, str(HERE / "fallback_server.py"), "--plain", str(plain)]
    urls = {"plain": f"http://127.0.0.1:{plain}"}
    if certs is not None:
        tls = free_port()
        cmd += ["--tls", str(tls), "--cert", str(certs.chain), "--key", str(certs.key)]
        urls["tls"] = f"https://127.0.0.1:{tls}"
    proc = subprocess.Popen(cmd, preexec_fn=pinned(cpu), stdin=subprocess.DEVNULL)
    wait_listening(urls, [proc], "fallback server")
    return Server("fallback (Python asyncio, HTTP/1.1 only)", [proc], urls, [proc.pid])


def start_server(
    kind: str,
    workdir: Path,
    certs: Certs | None,
    cpu: int | None,
    granian: Callable[[], str | None],
) -> Server:
    """kind: "auto" (nginx, installed by apt-get when we can; else granian; else the fallback),
    or one of "nginx", "granian", "fallback". `granian` installs it and returns its binary."""
    if certs is None and kind != "fallback":
        raise RuntimeError("only the fallback server runs without certificates (trustme)")
    if kind in ("auto", "nginx"):
        binary = find_nginx(install=True)
        if binary:
            return start_nginx(binary, workdir, certs, cpu)
        if kind == "nginx":
            raise RuntimeError("nginx is not installed and could not be installed")
        print("nginx unavailable: trying granian", flush=True)
    if kind in ("auto", "granian"):
        binary = granian()
        if binary:
            return start_granian(binary, certs, cpu)
        if kind == "granian":
            raise RuntimeError("granian could not be installed")
        print("granian unavailable: using the fallback server (HTTP/1.1 only)", flush=True)
    return start_fallback(sys.executable, certs, cpu)
