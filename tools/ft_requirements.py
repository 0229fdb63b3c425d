"""Print the test extra's requirements for the free-threaded venv (``make test-ft``).

Left out because they cannot be installed on CPython 3.13t: they (or, for trustme and
aioquic, cryptography) need a Rust build with crates from the network and ship no 3.13t wheel.
Only the tests that need them are skipped: tests/test_code_quality.py (mypy, ruff: lint is the
same on every interpreter), the HTTP/3 test files (aioquic servers, certificates) and the tests
that need certificates (trustme: the TLS fixtures skip).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

NOT_ON_313T = {"mypy", "ruff", "trustme", "aioquic"}


def main() -> int:
    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    for req in pyproject["project"]["optional-dependencies"]["test"]:
        name = re.split(r"[<>=!~; \[]", req, maxsplit=1)[0].lower()
        if name not in NOT_ON_313T:
            print(req)
    return 0


if __name__ == "__main__":
    sys.exit(main())
