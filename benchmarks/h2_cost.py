"""What h2 costs our client per tiny HTTP/2 request, apart from sockets, loops and our drivers
(issue 18: the split between h2's own code and ours).

    .venv/bin/python benchmarks/h2_cost.py [--n 3000] [--h2-send]
    .venv/bin/python benchmarks/h2_cost.py --callgrind     # instructions, not time

A server-side h2 connection answers every request first, untimed (its bytes kept); then a fresh
client connection (`pyqwest._h2.library.new_state`, as both drivers use) sends the same requests
and reads the kept answers: the client-side h2 work of each exchange, timed alone. `--h2-send`
puts h2's own `send_headers`/`send_data` back in place of ours, to see what ours saves.
`--callgrind` runs the measurement under valgrind for n and 5n requests and prints the
instructions per request (the difference over 4n): stable where timings on a shared machine
are not.
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
import time

import h2.config
import h2.connection

from pyqwest._h2 import library
from pyqwest._h2.core import MAX_FRAME_SIZE, SETTINGS

REQUEST = [
    (":method", "GET"), (":scheme", "https"), (":authority", "127.0.0.1:8443"),
    (":path", "/tiny"), ("accept", "*/*"), ("accept-encoding", "gzip, br, zstd"),
    ("user-agent", "pyqwest"),
]
RESPONSE = [
    (":status", "200"), ("server", "nginx"), ("date", "Thu, 03 Dec 2026 07:00:00 GMT"),
    ("content-type", "text/plain"), ("content-length", "2"),
]


def server_answers(n: int) -> tuple[bytes, list[bytes]]:
    """The server's preface and its answer to each of `n` requests, in order."""
    client = library.new_state(SETTINGS, MAX_FRAME_SIZE)
    server = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=False, header_encoding=None))
    server.initiate_connection()
    server.receive_data(client.data_to_send())
    preface = server.data_to_send()
    client.receive_data(preface)
    server.receive_data(client.data_to_send())
    answers = []
    for _ in range(n):
        sid = client.get_next_available_stream_id()
        client.send_headers(sid, REQUEST, end_stream=True)
        server.receive_data(client.data_to_send())
        server.send_headers(sid, RESPONSE)
        server.send_data(sid, b"ok", end_stream=True)
        answer = server.data_to_send()
        answers.append(answer)
        client.receive_data(answer)
        client.data_to_send()
    return preface, answers


def client_side(preface: bytes, answers: list[bytes]) -> tuple[float, float]:
    """Seconds spent sending the requests and reading the answers, on a fresh connection."""
    c = library.new_state(SETTINGS, MAX_FRAME_SIZE)
    c.data_to_send()
    c.receive_data(preface)
    c.data_to_send()
    sending = reading = 0.0
    clock = time.perf_counter
    for answer in answers:
        t0 = clock()
        sid = c.get_next_available_stream_id()
        c.send_headers(sid, REQUEST, end_stream=True)
        c.data_to_send()
        t1 = clock()
        c.receive_data(answer)
        c.data_to_send()
        t2 = clock()
        sending += t1 - t0
        reading += t2 - t1
    return sending, reading


def callgrind(n: int, args: list[str]) -> None:
    """Instructions per request: valgrind on n and 5n requests, the difference over 4n."""
    counts = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in (n, 5 * n):
            data = os.path.join(tmp, f"answers.{size}")
            subprocess.run([sys.executable, __file__, "--n", str(size), "--save", data, *args],
                           check=True)
            out = subprocess.run(
                ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.{size}",
                 sys.executable, __file__, "--load", data, *args],
                capture_output=True, text=True, check=True,
            ).stderr
            counts.append(int(out.split("Collected : ")[1].split()[0]))
    print(f"client-side h2, {' '.join(args) or 'ours'}: "
          f"{(counts[1] - counts[0]) / (4 * n):,.0f} instructions per request")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=3000, help="requests")
    p.add_argument("--h2-send", action="store_true", help="h2's own send path, not ours")
    p.add_argument("--callgrind", action="store_true", help="count instructions (valgrind)")
    p.add_argument("--save", help=argparse.SUPPRESS)
    p.add_argument("--load", help=argparse.SUPPRESS)
    a = p.parse_args()
    extra = ["--h2-send"] if a.h2_send else []
    if a.callgrind:
        callgrind(min(a.n, 400), extra)
        return
    if a.h2_send:
        library.H2State.send_headers = h2.connection.H2Connection.send_headers  # type: ignore[method-assign]
        library.H2State.send_data = h2.connection.H2Connection.send_data  # type: ignore[method-assign]
    if a.save:
        with open(a.save, "wb") as f:
            pickle.dump(server_answers(a.n), f)
        return
    if a.load:
        with open(a.load, "rb") as f:
            client_side(*pickle.load(f))
        return
    sending, reading = client_side(*server_answers(a.n))
    print(f"client-side h2 per request ({'h2 send path' if a.h2_send else 'ours'}): "
          f"send {1e6 * sending / a.n:.1f} µs, receive {1e6 * reading / a.n:.1f} µs")


if __name__ == "__main__":
    main()
