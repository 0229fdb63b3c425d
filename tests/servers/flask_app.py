"""A Flask app: the WSGI side of the integration tests, run in-process through
`pyqwest.testing.WSGITransport` and over the network under hypercorn's WSGI mode (the
`flask_server` fixture: import it into a test module) so both paths can be compared.

Endpoints:
``/form``     POST: the form Flask parsed, as JSON (like the Starlette app's).
``/echo``     request headers as ``x-echo-<name>``, the body read from ``wsgi.input`` and
              streamed back in 4-byte pieces; trailer ``x-echo-trailer: last info``.
``/environ``  the environ's str/int/tuple values as JSON.
``/errors``   writes ``"This is an error message\\n"`` to ``wsgi.errors``.
``/boom``     raises ValueError("boom") (Flask answers 500).
``/slow``     ``?chunks=3&delay=0.05``: ``b"chunk<i>"`` with sleeps in between.
``/gzip``     a gzip-encoded ``b"hello gzip" * 10``.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, Response, jsonify, request

from .hypercorn_server import HypercornServer
from .loop_thread import LoopThread

app = Flask(__name__)


@app.post("/form")
def form() -> Any:
    fields = [{"name": k, "filename": None, "content_type": None, "value": v}
              for k, v in request.form.items(multi=True)]
    for name, f in request.files.items(multi=True):
        fields.append({"name": name, "filename": f.filename,
                       "content_type": f.headers.get("content-type"),
                       "value": f.read().decode("latin-1")})
    return jsonify(fields)


@app.route("/echo", methods=["GET", "POST", "PUT"])
def echo() -> Response:
    environ = request.environ
    body = environ["wsgi.input"]
    headers = [("x-echo-" + k.lower(), v) for k, v in request.headers.items()]

    def stream() -> Iterator[bytes]:
        while piece := body.read(4):
            yield piece
        send = environ.get("wsgi.ext.http.send_trailers")
        if send is not None:
            send([("x-echo-trailer", "last info")])

    return Response(stream(), headers=headers)


@app.get("/environ")
def environ() -> Any:
    return jsonify({k: v for k, v in request.environ.items()
                    if isinstance(v, (str, int, tuple))})


@app.get("/errors")
def errors() -> str:
    request.environ["wsgi.errors"].write("This is an error message\n")
    return "logged"


@app.get("/boom")
def boom() -> str:
    raise ValueError("boom")


@app.get("/slow")
def slow() -> Response:
    chunks = int(request.args.get("chunks", 3))
    delay = float(request.args.get("delay", 0.05))

    def stream() -> Iterator[bytes]:
        for i in range(chunks):
            if i:
                time.sleep(delay)
            yield b"chunk%d" % i

    return Response(stream(), mimetype="text/plain")


@app.get("/gzip")
def gzipped() -> Response:
    return Response(gzip.compress(b"hello gzip" * 10), headers={"content-encoding": "gzip"})


def _terminated_input(environ: dict[str, Any], start_response: Any) -> Any:
    # hypercorn buffers the whole body into wsgi.input but does not say so: without
    # wsgi.input_terminated Werkzeug reads nothing of a chunked (length-less) request
    environ["wsgi.input_terminated"] = True
    return app(environ, start_response)


@pytest.fixture(scope="session")
def flask_server(server_loop: LoopThread) -> Iterator[str]:
    """The Flask app under hypercorn (WSGI mode) on 127.0.0.1: its base URL."""
    server = HypercornServer(server_loop, _terminated_input, mode="wsgi").start()
    yield server.url
    server.stop()
