"""Smoke test of the benchmark runner (benchmarks/run.py): it runs, and reports well-formed figures.

One scenario pair, 50 requests, the fallback server (no nginx), this interpreter for the floor and
for our client (`--here`: no venvs, no installs). Asserts shapes only, never timing.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
FIGURES = ("cpu_us_per_req", "rps", "p50_us", "p99_us", "wall_s", "cpu_s")

pytestmark = [
    pytest.mark.skipif(not (BENCH / "run.py").exists(), reason="benchmarks/ not in this checkout"),
    pytest.mark.skipif(sys.platform != "linux", reason="the runner pins CPUs and reads /proc"),
]


def test_runner_smoke(tmp_path: Path) -> None:
    pytest.importorskip("pyqwest", reason="our package is not installed in this interpreter")
    have_tls = importlib.util.find_spec("trustme") is not None  # certificates for tls_h1
    out = tmp_path / "out"
    cmd = [
        sys.executable, str(BENCH / "run.py"), "--here", "--server", "fallback",
        "--clients", "floor,ours", "--scenarios", "get_tiny,tls_h1", "--loops", "asyncio",
        "--n", "50", "--reps", "1", "--out", str(out), "--workdir", str(tmp_path / "work"),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    results = json.loads((out / "latest.json").read_text())
    by = {(r["label"], r["scenario"]): r for r in results}
    assert set(by) == {(c, s) for c in ("floor", "ours") for s in ("get_tiny", "tls_h1")}
    for (client, scenario), r in by.items():
        if scenario == "tls_h1" and not have_tls:
            assert "unsupported" in r, r  # no certificates: reported as n/a, with a reason
            continue
        assert "error" not in r and "unsupported" not in r, r
        assert r["loop"] == "asyncio" and r["version"]
        assert r["requests"] == 50
        for key in FIGURES:
            assert isinstance(r[key], float) and r[key] > 0, (client, scenario, key, r[key])
        assert r["p99_us"] >= r["p50_us"]
        assert isinstance(r["server_cpu_pct"], float)

    table = (out / "latest.md").read_text()
    assert "| scenario | loop | ours | floor | server CPU % |" in table
    assert "| sequential GET, 2-byte body | asyncio |" in table
    assert "fallback" in table  # the report names the server it used


def test_runner_smoke_sync(tmp_path: Path) -> None:
    """The sync scenarios run on the "sync" loop with threads; an async-only client is n/a."""
    pytest.importorskip("pyqwest", reason="our package is not installed in this interpreter")
    out = tmp_path / "out"
    cmd = [
        sys.executable, str(BENCH / "run.py"), "--here", "--server", "fallback",
        "--clients", "floor,ours", "--scenarios", "sync_get_tiny,sync_get_tiny_t8",
        "--n", "50", "--reps", "1", "--out", str(out), "--workdir", str(tmp_path / "work"),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    results = json.loads((out / "latest.json").read_text())
    by = {(r["label"], r["scenario"]): r for r in results}
    assert all(r["loop"] == "sync" for r in results)
    for scenario in ("sync_get_tiny", "sync_get_tiny_t8"):
        assert "unsupported" in by[("floor", scenario)]
        r = by[("ours", scenario)]
        assert "error" not in r and "unsupported" not in r, r
        assert r["requests"] == 50
        for key in FIGURES:
            assert isinstance(r[key], float) and r[key] > 0, (scenario, key, r[key])
    assert "| sync: 8 threads GET, 2-byte body | sync |" in (out / "latest.md").read_text()


def test_baseline_is_ours_at_a_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--baseline REF adds the column ours_base, built from that commit's tree (git archive);
    ours_base without --baseline is refused before anything is built."""
    if not (BENCH.parent / ".git").exists():
        pytest.skip("not a git checkout")
    refused = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--clients", "ours,ours_base"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 2 and "give --baseline" in refused.stderr
    sys.path.insert(0, str(BENCH))
    try:
        envs = importlib.import_module("envs")
    finally:
        sys.path.remove(str(BENCH))
    monkeypatch.setattr(envs, "BENCH_DIR", tmp_path)
    tree = envs.baseline_tree("HEAD")
    assert tree.parent == tmp_path / "baseline" and len(tree.name) == 40  # the commit's sha
    assert (tree / "cpqwest" / "_parser.pyx").exists() and not (tree / ".git").exists()
