"""The native reqwest column: builds benchmarks/native_reqwest (bare reqwest + tokio) offline.

Its crates are Debian's (`librust-reqwest-dev` and its dependency closure): `apt-get download`
+ `dpkg -x` into .bench/rust-crates/ (no package installed, nothing outside .bench/ touched), used
by cargo as a local directory source in a private CARGO_HOME, offline: no network registry. None
of those sources are in the repository; only our client and this script are.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import envs
from scenarios import PROTO_LEN, Scenario

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "native_reqwest"
ROOT_PACKAGE = "librust-reqwest-dev"
BINARY = "native-reqwest-bench"


def built(bench_dir: Path = envs.BENCH_DIR) -> Path:
    """Where build() leaves the binary."""
    return bench_dir / "native_reqwest/target/release" / BINARY


class NativeUnavailable(Exception):
    """Why the reqwest column is empty (no cargo, no apt, a failed build): shown as its n/a."""


def _run(cmd: list[str], log: Path, **kw) -> None:
    with log.open("a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        if subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, **kw).returncode:
            tail = log.read_text().strip().splitlines()[-1:] or [""]
            raise NativeUnavailable(f"`{cmd[0]} {cmd[1]}` failed ({tail[0][:160]}); see {log}")


def find_cargo() -> str | None:
    """cargo on PATH, or rustup's default place (a login shell's PATH may not be ours)."""
    return shutil.which("cargo") or next(
        (str(p) for p in (Path.home() / ".cargo/bin/cargo",) if p.exists()), None
    )


def crate_closure() -> list[str]:
    """Debian's librust-*-dev packages reqwest needs, virtual feature packages resolved."""
    out = subprocess.run(
        ["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
         "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", ROOT_PACKAGE],
        capture_output=True, text=True,
    )  # fmt: skip
    names = {ln for ln in out.stdout.splitlines() if ln.startswith("librust-")}
    if ROOT_PACKAGE not in names:
        raise NativeUnavailable(f"apt-cache knows no {ROOT_PACKAGE} (not a Debian-like system?)")
    return sorted(names)


def unpack_crates(dest: Path, log: Path) -> Path:
    """Debian's crate sources under dest (once); returns the cargo directory source."""
    registry = dest / "root/usr/share/cargo/registry"
    done = dest / ".unpacked"
    if done.exists():
        return registry
    if not shutil.which("apt-get"):
        raise NativeUnavailable("no apt-get: Debian's crates cannot be fetched")
    debs = dest / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    try:
        names = crate_closure()
    except NativeUnavailable:
        if os.geteuid() != 0:
            raise
        _run(["apt-get", "update", "-qq"], log)  # empty package lists on a fresh machine
        names = crate_closure()
    _run(["apt-get", "download", "-q", *names], log, cwd=debs)
    for deb in sorted(debs.glob("*.deb")):
        _run(["dpkg-deb", "-x", str(deb), str(dest / "root")], log)
    done.write_text("\n".join(names) + "\n")
    return registry


CARGO_CONFIG = """\
# Private to the benchmark: Debian's unpacked crates stand in for the registry, offline.
[source.crates-io]
replace-with = "debian"
[source.debian]
directory = "{registry}"
[net]
offline = true
"""


def build(bench_dir: Path = envs.BENCH_DIR) -> Path:
    """The native client's binary, built (or rebuilt, incrementally) under bench_dir (.bench/,
    like the venvs: not the run's --workdir)."""
    cargo = find_cargo()
    if cargo is None:
        raise NativeUnavailable("cargo is not installed on this machine")
    dest = bench_dir / "rust-crates"
    dest.mkdir(parents=True, exist_ok=True)
    log = bench_dir / "native-reqwest.log"
    log.write_text("")
    registry = unpack_crates(dest, log)
    home = dest / "cargo-home"
    home.mkdir(exist_ok=True)
    (home / "config.toml").write_text(CARGO_CONFIG.format(registry=registry))
    # a copy of our sources, so cargo's lock file and target stay out of the checkout
    work = bench_dir / "native_reqwest"
    shutil.copytree(SOURCE, work, dirs_exist_ok=True)
    env = {**os.environ, "CARGO_HOME": str(home)}
    env.pop("RUSTC_WRAPPER", None)
    _run([cargo, "build", "--release", "--offline", "-q"], log, cwd=work, env=env)
    return built(bench_dir)


def scenario_flags(sc: Scenario) -> list[str]:
    """What scenarios.py tells a Python driver, as flags for the Rust one."""
    flags = {
        "--path": sc.path, "--method": sc.method, "--concurrency": sc.concurrency,
        "--upload": sc.upload, "--expect": sc.expect, "--stream": int(sc.stream),
        "--http": sc.http, "--proto-len": PROTO_LEN[sc.http],
    }  # fmt: skip
    return [str(x) for kv in flags.items() for x in kv]
