"""One request, curl-style: the body to stdout or a file, heads and timing as asked."""

from __future__ import annotations

import sys
import time
from typing import BinaryIO

from .._client import Client
from .exits import Exit, Failure
from .heads import prefixed, request_head, response_head
from .options import Options
from .progress import ProgressBar


def _open_output(opts: Options) -> BinaryIO:
    if opts.output is None:
        return sys.stdout.buffer
    try:
        return opts.output.open("wb")
    except OSError as exc:
        raise Failure(Exit.WRITE_ERROR, f"cannot write {opts.output}: {exc.strerror}") from exc


async def fetch(client: Client, opts: Options) -> None:
    """Run the request once; raises :class:`Failure` (or the client's error) on failure."""
    method = opts.effective_method
    if opts.verbose:
        sys.stderr.write(prefixed(request_head(method, opts.url, opts.headers), ">"))
    start = time.perf_counter()
    async with client.stream(method, opts.url, opts.headers, opts.data) as resp:
        head_at = time.perf_counter()
        head = response_head(resp)
        if opts.verbose:
            sys.stderr.write(prefixed(head, "<"))
        if opts.fail and resp.status >= 400:
            raise Failure(Exit.HTTP_RETURNED_ERROR,
                          f"The requested URL returned error: {resp.status}")
        out = _open_output(opts)
        try:
            if opts.include or opts.head:
                out.write(head.encode("latin-1", "replace"))
            bar = None
            if opts.output is not None and not opts.silent and sys.stderr.isatty():
                length = resp.headers.get("content-length")
                bar = ProgressBar(sys.stderr, int(length) if length and length.isdigit() else None)
            async for chunk in resp.content:
                out.write(chunk)
                if bar is not None:
                    bar.advance(len(chunk))
            if bar is not None:
                bar.finish()
            out.flush()
        finally:
            if out is not sys.stdout.buffer:
                out.close()
    if opts.timing:
        end = time.perf_counter()
        sys.stderr.write(
            f"time to response head: {(head_at - start) * 1000:.3f} ms\n"
            f"total time:            {(end - start) * 1000:.3f} ms\n"
        )
