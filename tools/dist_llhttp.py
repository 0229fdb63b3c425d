"""``meson dist`` hook: put the pinned llhttp sdist into our sdist, checked against the wrap.

Our sdist then builds offline: meson finds the tarball, unpacks it and verifies it against
``source_hash`` in ``subprojects/llhttp.wrap`` again, so an unpacked copy is never trusted.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import shutil
import sys
from pathlib import Path


def main() -> int:
    source = Path(os.environ["MESON_PROJECT_SOURCE_ROOT"])
    dist = Path(os.environ["MESON_PROJECT_DIST_ROOT"])
    wrap = configparser.ConfigParser()
    wrap.read(source / "subprojects" / "llhttp.wrap")
    name = wrap["wrap-file"]["source_filename"]
    expected = wrap["wrap-file"]["source_hash"]
    tarball = source / "subprojects" / "packagefiles" / name
    actual = hashlib.sha256(tarball.read_bytes()).hexdigest()
    if actual != expected:
        print(f"{tarball}: sha256 {actual}, the wrap pins {expected}", file=sys.stderr)
        return 1
    target = dist / "subprojects" / "packagefiles"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tarball, target / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
