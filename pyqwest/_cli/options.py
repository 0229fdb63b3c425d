"""Command-line parsing: curl's flags, turned into one typed :class:`Options`."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .._multipart import Multipart, Part
from .._version import HTTPVersion
from .exits import Exit, Failure

try:
    VERSION = version("cpqwest")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    VERSION = "0+unknown"

DEFAULT_MAX_REDIRS = 50  # curl's default with -L

_DESCRIPTION = """\
A curl-like HTTP client on pyqwest. The response body goes to stdout (or -o FILE); errors are
one line on stderr, and the exit status is curl's for the same failure (6 resolve, 7 connect,
22 HTTP error with -f, 28 timeout, 35 TLS handshake, 47 redirects, 60 certificate).
"""

_EPILOG = """\
Load mode: -n N -c C sends the request N times, C at a time, reads each body, and prints
requests per second and latency percentiles (p50/p90/p99) instead of the body.

--timing prints what the client itself can measure: the time to the response head and the
total time. The DNS/connect/TLS breakdown needs the transport's observability hooks, which
do not exist yet.
"""


@dataclass
class Options:
    """Everything the command was asked to do, after parsing."""

    url: str
    method: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    data: bytes | Multipart | None = None
    data_content_type: str | None = None
    accept: str = "*/*"
    output: Path | None = None
    include: bool = False
    head: bool = False
    verbose: bool = False
    silent: bool = False
    show_error: bool = False
    fail: bool = False
    location: bool = False
    max_redirs: int = DEFAULT_MAX_REDIRS
    http_version: HTTPVersion | None = None
    cacert: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    proxy: str | None = None
    max_time: float | None = None
    connect_timeout: float | None = None
    timing: bool = False
    requests: int | None = None
    concurrency: int = 1

    @property
    def effective_method(self) -> str:
        """-X wins; else HEAD for -I, POST when there is a body, GET otherwise (curl's rules)."""
        if self.method is not None:
            return self.method
        if self.head:
            return "HEAD"
        return "POST" if self.data is not None else "GET"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pyqwest",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    p.add_argument("url", metavar="URL")
    p.add_argument("-X", "--request", dest="method", metavar="METHOD", help="request method")
    p.add_argument("-H", "--header", dest="headers", action="append", default=[],
                   metavar="'NAME: VALUE'", help="add a request header (repeatable); "
                   "'NAME;' sends it empty")
    p.add_argument("-A", "--user-agent", metavar="NAME",
                   help=f"user-agent (default pyqwest/{VERSION})")
    p.add_argument("-d", "--data", action="append", default=[], metavar="DATA",
                   help="POST DATA as application/x-www-form-urlencoded (@FILE reads a file, "
                   "newlines stripped); repeats are joined with '&'")
    p.add_argument("--data-binary", action="append", default=[], metavar="DATA",
                   help="like -d but @FILE is sent byte for byte")
    p.add_argument("--json", action="append", default=[], metavar="DATA",
                   help="POST DATA (or @FILE) as application/json, accepting application/json")
    p.add_argument("-F", "--form", action="append", default=[], metavar="NAME=VALUE",
                   help="multipart/form-data POST, one part per -F: NAME=text, NAME=@FILE "
                   "(a file upload; ';type=TYPE' and ';filename=NAME' may follow), "
                   "NAME=<FILE (the file's content as the value)")
    p.add_argument("-o", "--output", type=Path, metavar="FILE",
                   help="write the body to FILE (a progress bar on a terminal's stderr)")
    p.add_argument("-i", "--include", action="store_true",
                   help="write the response head before the body")
    p.add_argument("-I", "--head", action="store_true", help="HEAD request; write the head")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="request and response heads on stderr")
    p.add_argument("-s", "--silent", action="store_true", help="no progress bar, no errors")
    p.add_argument("-S", "--show-error", action="store_true", help="errors even with -s")
    p.add_argument("-f", "--fail", action="store_true",
                   help="HTTP status >= 400: no body, exit 22")
    p.add_argument("-L", "--location", action="store_true", help="follow redirects")
    p.add_argument("--max-redirs", type=int, default=DEFAULT_MAX_REDIRS, metavar="N",
                   help=f"at most N redirects with -L (default {DEFAULT_MAX_REDIRS}; "
                   "over: exit 47)")
    versions = p.add_mutually_exclusive_group()
    versions.add_argument("--http1.1", dest="http_version", action="store_const",
                          const=HTTPVersion.HTTP1, help="HTTP/1.1 only")
    versions.add_argument("--http2", dest="http_version", action="store_const",
                          const=HTTPVersion.HTTP2,
                          help="HTTP/2 only (ALPN over TLS, prior knowledge over plain TCP)")
    versions.add_argument("--http2-prior-knowledge", dest="http_version",
                          action="store_const", const=HTTPVersion.HTTP2, help="same as --http2")
    versions.add_argument("--http3", dest="http_version", action="store_const",
                          const=HTTPVersion.HTTP3, help="HTTP/3 (needs cpqwest[http3])")
    p.add_argument("--cacert", type=Path, metavar="FILE",
                   help="trust only the PEM roots in FILE (default: certifi's and the OS's)")
    p.add_argument("-E", "--cert", type=Path, metavar="FILE", help="client certificate (PEM)")
    p.add_argument("--key", type=Path, metavar="FILE",
                   help="client private key (PEM; default: read from --cert)")
    p.add_argument("-x", "--proxy", metavar="URL", help="proxy URL (the transport's proxy=)")
    p.add_argument("-m", "--max-time", type=float, metavar="SECONDS",
                   help="total time allowed for the whole exchange")
    p.add_argument("--connect-timeout", type=float, metavar="SECONDS",
                   help="time allowed to connect (default 30)")
    p.add_argument("--timing", action="store_true",
                   help="time to response head and total time, on stderr")
    p.add_argument("-n", "--requests", type=int, metavar="N", help="load mode: N requests")
    p.add_argument("-c", "--concurrency", type=int, default=1, metavar="C",
                   help="load mode: C requests in flight (default 1)")
    p.add_argument("-V", "--version", action="version", version=f"pyqwest {VERSION}")
    return p


def _read_file(path: str, *, strip_newlines: bool) -> bytes:
    try:
        raw = Path(path).read_bytes() if path != "-" else sys.stdin.buffer.read()
    except OSError as exc:
        raise Failure(Exit.READ_ERROR, f"cannot read {path}: {exc.strerror or exc}") from exc
    return raw.replace(b"\r", b"").replace(b"\n", b"") if strip_newlines else raw


def _data_item(value: str, *, strip_newlines: bool) -> bytes:
    if value.startswith("@"):
        return _read_file(value[1:], strip_newlines=strip_newlines)
    return value.encode()


def _form_part(raw: str) -> tuple[str, Part]:
    """One ``-F`` value as curl reads it."""
    name, sep, value = raw.partition("=")
    if not sep or not name:
        raise Failure(Exit.USAGE, f"bad -F {raw!r}: expected NAME=VALUE")
    if value.startswith("<"):
        return name, Part(_read_file(value[1:], strip_newlines=False))
    if not value.startswith("@"):
        return name, Part(value)
    path, *params = value[1:].split(";")
    attrs = dict(p.partition("=")[::2] for p in params)
    content_type = attrs.get("type", "application/octet-stream")
    return name, Part(_read_file(path, strip_newlines=False),
                      filename=attrs.get("filename", Path(path).name),
                      headers=[("content-type", content_type)])


def _header(raw: str) -> tuple[str, str]:
    name, sep, value = raw.partition(":")
    if not sep:
        if raw.endswith(";"):  # curl: 'Name;' sends the header with an empty value
            return raw[:-1].strip(), ""
        raise Failure(Exit.USAGE, f"bad header {raw!r}: expected 'NAME: VALUE'")
    return name.strip(), value.strip()


def parse(argv: list[str]) -> Options:
    """Parse ``argv`` (without the program name); argparse exits with 2 on a usage error."""
    ns = _parser().parse_args(argv)
    opts = Options(
        url=ns.url, method=ns.method, output=ns.output, include=ns.include, head=ns.head,
        verbose=ns.verbose, silent=ns.silent, show_error=ns.show_error, fail=ns.fail,
        location=ns.location, max_redirs=ns.max_redirs, http_version=ns.http_version,
        cacert=ns.cacert, cert=ns.cert, key=ns.key, proxy=ns.proxy, max_time=ns.max_time,
        connect_timeout=ns.connect_timeout, timing=ns.timing, requests=ns.requests,
        concurrency=ns.concurrency,
    )
    opts.headers = [_header(h) for h in ns.headers]
    names = {name.lower() for name, _ in opts.headers}
    if "user-agent" not in names:
        opts.headers.insert(0, ("user-agent", ns.user_agent or f"pyqwest/{VERSION}"))
    kinds = [k for k, v in (("-d", ns.data), ("--data-binary", ns.data_binary),
                            ("--json", ns.json), ("-F", ns.form)) if v]
    if len(kinds) > 1:
        raise Failure(Exit.USAGE, f"{' and '.join(kinds)} cannot be combined")
    if ns.form:  # the Multipart sets its own content-type with a fresh boundary per request
        opts.data = Multipart([_form_part(f) for f in ns.form])
    elif ns.json:
        opts.data = b"".join(_data_item(v, strip_newlines=False) for v in ns.json)
        opts.data_content_type = "application/json"
        opts.accept = "application/json"
    elif ns.data or ns.data_binary:
        strip = bool(ns.data)
        opts.data = b"&".join(_data_item(v, strip_newlines=strip)
                              for v in ns.data or ns.data_binary)
        opts.data_content_type = "application/x-www-form-urlencoded"
    for extra, value in (("content-type", opts.data_content_type), ("accept", opts.accept)):
        if value is not None and extra not in names:
            opts.headers.append((extra, value))
    if opts.requests is not None and opts.requests < 1:
        raise Failure(Exit.USAGE, "-n must be at least 1")
    if opts.concurrency < 1:
        raise Failure(Exit.USAGE, "-c must be at least 1")
    if opts.max_redirs < 0:
        raise Failure(Exit.USAGE, "--max-redirs must be non-negative")
    return opts
