"""Smoke test of an installed wheel: the compiled core loads, a request and the CLI work.

Runs against a throw-away HTTP server on 127.0.0.1; exits non-zero on the first failure.
"""

from __future__ import annotations

import asyncio
import http.server
import subprocess
import sys
import threading
from importlib import metadata
from pathlib import Path

BODY = b"smoke test body\n"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:
        pass


async def _fetch(url: str) -> bytes:
    import pyqwest

    async with pyqwest.HTTPTransport() as transport:
        resp = await pyqwest.Client(transport).get(url)
        assert resp.status == 200, resp.status
        return resp.content


def main() -> int:
    import cpqwest._parser
    import pyqwest

    core = Path(cpqwest._parser.__file__)
    assert "site-packages" in core.parts, f"not the installed wheel: {core}"
    licence = Path(cpqwest._parser.__file__).with_name("LICENSE.llhttp")
    assert licence.is_file(), "llhttp's licence is missing from the wheel"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        assert asyncio.run(_fetch(url)) == BODY
        cli = subprocess.run([sys.executable, "-m", "pyqwest", url], capture_output=True,
                             timeout=30, check=False)
        assert (cli.returncode, cli.stdout) == (0, BODY), cli
    finally:
        server.shutdown()
    print(f"smoke ok: cpqwest {metadata.version('cpqwest')} on {sys.version.split()[0]}, "
          f"{len(pyqwest.__all__)} public names, core at {core.parent}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
