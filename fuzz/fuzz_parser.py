"""Atheris harness for the compiled HTTP/1.1 response parser (cpqwest._parser.ResponseParser).

Each input is a small header (a flags byte, a count byte, 2 bytes per split point) and a
response. The response is parsed once
in one piece and once in the input's random pieces (then once byte by byte for short inputs);
all parses must agree: same status, headers, trailers, body, keep-alive, completion, and the
same error (only RemoteProtocolError may come out). In collect mode bodies go through the
direct-read window as the protocol reads them, and must equal the plain parse's. Anything
else is a finding: an exception other than RemoteProtocolError, a crash or sanitizer report in
the C code, a hang (libFuzzer's -timeout), or a split-dependent result (AssertionError).

Run (from the repository root, with the project installed):

    bash fuzz/build_native.sh          # optional: clang + -fsanitize=fuzzer-no-link build
    python fuzz/fuzz_parser.py fuzz/corpus -max_len=4096 -timeout=10 -max_total_time=600

With fuzz/build/_parser*.so present (or FUZZ_NATIVE=1) that build is loaded instead of the
installed module, so libFuzzer sees edge coverage of the Cython parser and llhttp; without it
only the Python side is instrumented and mutations are guided by little more than chance.
FUZZ_NATIVE=0 forces the installed module.
"""

from __future__ import annotations

import glob
import importlib.machinery
import importlib.util
import os
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))


def _load_native_parser() -> str:
    """Load fuzz/build's instrumented parser as cpqwest._parser (after atheris.Setup, which
    loads libFuzzer: its coverage callbacks must be global to resolve the build's)."""
    want = os.environ.get("FUZZ_NATIVE")
    builds = glob.glob(os.path.join(HERE, "build", "_parser*.so"))
    if want == "0" or not builds:
        if want == "1":
            raise SystemExit("FUZZ_NATIVE=1 but no fuzz/build/_parser*.so: run build_native.sh")
        return "installed (Python-level instrumentation only)"
    # the build's coverage callbacks resolve against libFuzzer inside atheris' core module,
    # which atheris.Fuzz() loads (made global by main's dlopen flags); so load it after that
    with open("/proc/self/maps") as maps:
        loaded = any("core_with_libfuzzer" in line for line in maps)
    if not loaded:
        raise SystemExit("atheris' libFuzzer core is not loaded yet")
    loader = importlib.machinery.ExtensionFileLoader("cpqwest._parser", builds[0])
    spec = importlib.util.spec_from_file_location("cpqwest._parser", builds[0], loader=loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["cpqwest._parser"] = module
    loader.exec_module(module)
    return builds[0] + " (libFuzzer edge coverage)"


import atheris  # noqa: E402

ResponseParser: Any = None
RemoteProtocolError: Any = None


def _imports() -> str:
    global ResponseParser, RemoteProtocolError
    source = _load_native_parser()
    with atheris.instrument_imports():
        from cpqwest._errors import RemoteProtocolError as rpe
        from cpqwest._parser import ResponseParser as rp
        from cpqwest._parser import set_direct_min
    ResponseParser, RemoteProtocolError = rp, rpe
    set_direct_min(2)  # direct reads for small bodies too, so inputs reach that path
    return source


MAX_PIECES = 16


def parse(data: bytes, cuts: list[int], head_request: bool, collect: bool, eof: bool):
    """Feed `data` cut at `cuts`; the observable result (or the error) as a tuple. Collecting,
    each piece is read as the protocol reads a socket: into the direct window while a direct
    read is pending (as much as fits), the rest fed to llhttp."""
    p = ResponseParser()
    p.reset(head_request, collect)
    done = False
    error = None
    try:
        start = 0
        for cut in [*cuts, len(data)]:
            piece = data[start:cut]
            start = cut
            while True:
                taken = p.read_direct(piece) if collect else 0
                piece = piece[taken:]
                if taken and piece:
                    continue  # the window is full: the next read goes to llhttp
                if (piece or not taken) and p.feed_data(piece):
                    done = True
                break
        if not done and eof:
            done = p.feed_eof_py()
    except RemoteProtocolError as exc:
        error = str(exc)
    if error is not None:
        return ("error", error)
    body = p.take_body()  # in progress: what was parsed so far
    return (
        done,
        p.status,
        p.http_minor,
        p.reason,
        p.headers,
        p.trailers,
        body,
        p.head_done,
        p.message_done,
        p.keep_alive if done else None,
        p.trailing_data,
    )


def TestOneInput(buf: bytes) -> None:
    if ResponseParser is None:
        print(f"fuzz_parser: parser from {_imports()}", file=sys.stderr)
    # layout: flags byte, piece-count byte, 2 bytes per cut, then the response
    if len(buf) < 3:
        return
    flags = buf[0]
    head_request = bool(flags & 1)
    collect = bool(flags & 2)
    eof = bool(flags & 4)
    ncuts = buf[1] % (MAX_PIECES + 1)
    raw_cuts = [int.from_bytes(buf[2 + 2 * i : 4 + 2 * i], "little") for i in range(ncuts)]
    data = buf[2 + 2 * ncuts :]
    if not data:
        return
    cuts = sorted({c % (len(data) + 1) for c in raw_cuts})
    whole = parse(data, [], head_request, collect, eof)
    pieces = parse(data, cuts, head_request, collect, eof)
    if whole != pieces:
        raise AssertionError(f"split-dependent parse: cuts={cuts}\n{whole!r}\n!=\n{pieces!r}")
    if collect:
        # a body read straight into its final buffer is the body llhttp parses: never a byte
        # the server did not send (no uninitialised or stale memory)
        plain = parse(data, cuts, head_request, False, eof)
        if whole != plain:
            raise AssertionError(f"direct read differs: cuts={cuts}\n{whole!r}\n!=\n{plain!r}")
    if len(data) <= 512:
        single = parse(data, list(range(1, len(data))), head_request, collect, eof)
        if whole != single:
            raise AssertionError(f"byte-by-byte parse differs\n{whole!r}\n!=\n{single!r}")


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    sys.setdlopenflags(os.RTLD_NOW | os.RTLD_GLOBAL)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
