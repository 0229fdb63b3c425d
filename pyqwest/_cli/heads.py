"""The request and response heads as the command prints them (-i, -I, -v)."""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import urlsplit

from .._response import Response


def reason(status: int) -> str:
    """The standard reason phrase, or '' for a code without one."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def response_head(resp: Response) -> str:
    """``HTTP/1.1 200 OK`` and the header lines, CRLF-terminated, ending with an empty line."""
    lines = [f"{resp.http_version} {resp.status} {reason(resp.status)}".rstrip()]
    lines += [f"{name}: {value}" for name, value in resp.headers.items()]
    return "\r\n".join(lines) + "\r\n\r\n"


def request_head(method: str, url: str, headers: list[tuple[str, str]]) -> str:
    """The request line and the headers the command sets (the transport adds host framing and
    accept-encoding on the wire)."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target}", f"host: {parts.netloc}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return "\n".join(lines) + "\n"


def prefixed(text: str, mark: str) -> str:
    """Every line of ``text`` with curl's -v prefix (``> `` sent, ``< `` received)."""
    lines = text.replace("\r\n", "\n").rstrip("\n").splitlines()
    return "".join(f"{mark} {line}\n" for line in lines) + f"{mark}\n"
