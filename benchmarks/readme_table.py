"""Copy the CPU table of benchmarks/results/latest.md into README.md, between the bench markers.

Run from the repository root after `make bench`: `python3 benchmarks/readme_table.py`.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKED = re.compile(r"<!-- bench -->.*?<!-- /bench -->", re.S)


def cpu_table(markdown: str) -> str:
    """The run's description lines and its client-CPU table."""
    intro = markdown.split("\n### ")[0].splitlines()
    keys = ("Command:", "Machine:", "Server:", "Clients:")
    meta = [line for line in intro if line.startswith(keys)]
    section = markdown.split("### client CPU µs per request")[1].split("\n### ")[0]
    rows = [line for line in section.splitlines()[1:] if line.startswith("|")]
    return "\n".join(meta) + "\n\n" + "\n".join(rows)


def main() -> None:
    block = cpu_table((ROOT / "benchmarks/results/latest.md").read_text())
    readme = ROOT / "README.md"
    text = MARKED.sub(lambda _: f"<!-- bench -->\n{block}\n<!-- /bench -->", readme.read_text())
    readme.write_text(text)


if __name__ == "__main__":
    main()
