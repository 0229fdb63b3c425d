"""One virtual environment per client under .bench/venvs/, made with `python -m venv`.

Each peer gets its own venv because the original pyqwest and ours share the import name. A venv is
reused while its marker file matches what it should contain; ours is reinstalled from the checkout
on every run (the code under test changes between runs, its version number does not).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / ".bench"
VENVS = BENCH_DIR / "venvs"
MARKER = ".bench-marker.json"
UVLOOP = "uvloop==0.23.0"
OTEL_SDK = "opentelemetry-sdk==1.45.2"


@dataclass(frozen=True)
class ClientSpec:
    name: str
    driver: str  # adapter module in benchmarks/drivers/
    requirements: tuple[str, ...]
    from_checkout: bool = False  # ours: reinstall the repo root on every run
    baseline: bool = False  # ours at an earlier commit (run.py --baseline REF)
    native: bool = False  # not Python: a binary built by native.py, no venv


# In report column order: the baseline first, the floor last.
CLIENTS: dict[str, ClientSpec] = {
    c.name: c
    for c in (
        ClientSpec("pyqwest", "pyqwest_api", ("pyqwest==0.12.0", UVLOOP)),  # the original
        ClientSpec("ours", "pyqwest_api", (UVLOOP,), from_checkout=True),
        # ours at the commit given by --baseline REF, to compare a change with what it replaces
        ClientSpec("ours_base", "pyqwest_api", (UVLOOP,), from_checkout=True, baseline=True),
        # ours with OpenTelemetry on (the SDK, spans exported to nowhere): the cost of OTel
        ClientSpec("ours_otel", "pyqwest_otel", (UVLOOP, OTEL_SDK), from_checkout=True),
        ClientSpec("aiohttp", "aiohttp_client", ("aiohttp==3.14.5", UVLOOP)),
        ClientSpec("httpx", "httpx_client", ("httpx[http2]==0.28.1", UVLOOP)),
        # httpx's API over our transport (pyqwest.httpx), to compare with httpx's own
        ClientSpec("httpx_ours", "httpx_pyqwest", ("httpx==0.28.1", UVLOOP), from_checkout=True),
        ClientSpec("pyreqwest", "pyreqwest_client", ("pyreqwest==0.15.1", UVLOOP)),
        # sync-only peers (the sync scenarios; n/a on the async ones)
        ClientSpec("urllib3", "urllib3_client", ("urllib3==2.8.0",)),
        ClientSpec("requests", "requests_client", ("requests==2.34.2",)),
        ClientSpec("niquests", "niquests_client", ("niquests[http3]==3.21.2", UVLOOP)),
        # the engine the original wraps, bare (Rust, reqwest + tokio): the lower bound of a
        # Python client on reqwest
        ClientSpec("reqwest", "native_reqwest", (), native=True),
        ClientSpec("floor", "floor", (UVLOOP,)),
    )
}
# The runner's own tools: certificates, the plot, and uvloop for the fallback server.
TOOL_REQUIREMENTS = ("trustme==1.2.1", "matplotlib", UVLOOP)
GRANIAN = ("granian==2.8.7",)  # the server when nginx cannot be had


def python_of(venv: Path) -> Path:
    return venv / "bin" / "python"


def _pip(venv: Path, *args: str, log: Path) -> None:
    cmd = [str(python_of(venv)), "-m", "pip", "--disable-pip-version-check", "install", "-q", *args]
    with log.open("a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        subprocess.run(cmd, check=True, stdout=f, stderr=subprocess.STDOUT)


def ensure_venv(name: str, requirements: tuple[str, ...], base_python: str) -> Path:
    """Create or reuse .bench/venvs/<name> holding exactly `requirements` (marker-checked)."""
    venv = VENVS / name
    want = {"python": base_python, "requirements": list(requirements)}
    marker = venv / MARKER
    try:
        if json.loads(marker.read_text()) == want and python_of(venv).exists():
            return venv
    except (OSError, ValueError):
        pass
    VENVS.mkdir(parents=True, exist_ok=True)
    log = VENVS / f"{name}.log"
    log.write_text("")
    subprocess.run([base_python, "-m", "venv", "--clear", str(venv)], check=True)
    if requirements:
        _pip(venv, *requirements, log=log)
    marker.write_text(json.dumps(want))
    return venv


def baseline_tree(ref: str) -> Path:
    """The tree of commit `ref` of this repository, exported once to .bench/baseline/<sha>."""
    sha = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--verify", f"{ref}^{{commit}}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    tree = BENCH_DIR / "baseline" / sha
    if not (tree / "pyproject.toml").exists():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", sha], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def install_checkout(venv: Path, source: Path = REPO) -> None:
    """(Re)build and install ours from `source` (the repo root, or a baseline tree): one build,
    dependencies installed apart."""
    log = VENVS / f"{venv.name}.log"
    project = tomllib.loads((source / "pyproject.toml").read_text())["project"]
    # the runtime dependencies and the HTTP/3 extra (the h3 scenarios)
    deps = project.get("dependencies", []) + project.get("optional-dependencies", {}).get(
        "http3", []
    )
    if deps:
        _pip(venv, *deps, log=log)  # a no-op once they are there
    _pip(venv, "--force-reinstall", "--no-deps", str(source), log=log)


def prepare_client(spec: ClientSpec, base_python: str, baseline: str | None = None) -> Path:
    """The venv of a client, ready to run (ours rebuilt; ours_base from the `baseline` ref)."""
    venv = ensure_venv(spec.name, spec.requirements, base_python)
    if spec.baseline:
        if baseline is None:
            raise ValueError("ours_base needs --baseline REF")
        install_checkout(venv, baseline_tree(baseline))
    elif spec.from_checkout:
        install_checkout(venv)
    return venv


def base_python() -> str:
    """The interpreter venvs are made from: the base one even when we run inside a venv."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def granian_binary() -> str | None:
    """granian in its own venv (only made when nginx is missing); None if it cannot be installed."""
    try:
        venv = ensure_venv("_granian", GRANIAN, base_python())
    except subprocess.CalledProcessError:
        return None
    return str(venv / "bin" / "granian")
