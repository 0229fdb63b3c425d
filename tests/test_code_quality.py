"""The source tree stays typed and lint-clean: `mypy --strict` on pyqwest/, ruff on everything.

Both read the checkout (not the installed wheel), with the configuration in pyproject.toml;
both tools come with the `test` extra.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_mypy_strict_clean() -> None:
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_clean() -> None:
    result = _run("ruff", "check", "pyqwest", "cpqwest", "tests", "benchmarks", "fuzz")
    assert result.returncode == 0, result.stdout + result.stderr
