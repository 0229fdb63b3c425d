"""Entry point: parse, run, and turn every failure into one line and an exit status."""

from __future__ import annotations

import asyncio
import os
import sys

from .._client import Client
from .exits import Exit, Failure, classify
from .fetch import fetch
from .load import run_load
from .options import Options, parse
from .transport import make_transport


async def _run(opts: Options) -> Exit:
    async with make_transport(opts) as transport:
        client = Client(transport)
        if opts.requests is None:
            await fetch(client, opts)
            return Exit.OK
        result = await run_load(client, opts)
        return result.failures[0].code if result.failures else Exit.OK


def _report(failure: Failure, opts: Options | None) -> None:
    if opts is None or not opts.silent or opts.show_error:
        sys.stderr.write(f"pyqwest: {failure}\n")


def main(argv: list[str] | None = None) -> int:
    """Run the command with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    opts: Options | None = None
    try:
        opts = parse(sys.argv[1:] if argv is None else argv)
        return int(asyncio.run(_run(opts)))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # stdout closed early (`| head`): curl's write error, no message
        # keep the interpreter's final flush of stdout from complaining about the pipe too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return int(Exit.WRITE_ERROR)
    except Exception as exc:  # one line per failure class, never a traceback
        failure = classify(exc)
        _report(failure, opts)
        return int(failure.code)
