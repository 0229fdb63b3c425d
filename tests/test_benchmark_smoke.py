"""Smoke test of the benchmark runner (benchmarks/run.py): it runs, and reports well-formed figures.

One scenario pair, 50 requests, the fallback server (no nginx), this interpreter for the floor and
for our client (`--here`: no venvs, no installs). Asserts shapes only, never timing.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shutil
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


def _run_bench(tmp_path: Path, *args: str) -> None:
    """run.py --here on the fallback server, 50 requests per run, results in tmp_path/out."""
    out = tmp_path / "out"
    cmd = [
        sys.executable, str(BENCH / "run.py"), "--here", "--server", "fallback", "--n", "50",
        "--reps", "1", "--out", str(out), "--workdir", str(tmp_path / "work"), *args,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_proxy_rows(tmp_path: Path) -> None:
    """The CONNECT-proxy rows go through tinyproxy to the TLS origin; without tinyproxy they are
    n/a with the reason, never silently direct."""
    pytest.importorskip("pyqwest", reason="our package is not installed in this interpreter")
    pytest.importorskip("trustme", reason="the proxied scenario is HTTPS")
    _run_bench(tmp_path, "--clients", "floor,ours",
               "--scenarios", "proxy_tls_tiny,sync_proxy_tls_tiny")  # fmt: skip
    results = json.loads((tmp_path / "out/latest.json").read_text())
    by = {(r["label"], r["scenario"]): r for r in results}
    assert "unsupported" in by[("floor", "proxy_tls_tiny")]  # the floor talks to origins only
    proxied = [by[("ours", s)] for s in ("proxy_tls_tiny", "sync_proxy_tls_tiny")]
    # looked up after the run: as root the runner apt-installs it when it can
    if shutil.which("tinyproxy") is None and not os.path.exists("/usr/sbin/tinyproxy"):
        assert all("tinyproxy" in r["unsupported"] for r in proxied), proxied
        return
    for r in proxied:
        assert "error" not in r and "unsupported" not in r, r
        assert r["requests"] == 50
    assert "CONNECT proxy: tinyproxy" in (tmp_path / "out/latest.md").read_text()


def test_scaling_run(tmp_path: Path) -> None:
    """--scaling writes its own table, plot data and per-point RSS; never the main table."""
    pytest.importorskip("pyqwest", reason="our package is not installed in this interpreter")
    _run_bench(tmp_path, "--scaling", "--clients", "floor,ours", "--loops", "asyncio",
               "--scenarios", "scale_h1_c1,scale_h1_c16,scale_h1_c64,scale_body_1k")  # fmt: skip
    out = tmp_path / "out"
    assert not (out / "latest.md").exists()
    results = json.loads((out / "scaling.json").read_text())
    for r in results:
        assert "error" not in r and "unsupported" not in r, r
        assert 0 < r["rss_kib"] <= r["max_rss_kib"] and r["open_fds"] > 0
    c16 = next(r for r in results if r["scenario"] == "scale_h1_c16" and r["label"] == "ours")
    c1 = next(r for r in results if r["scenario"] == "scale_h1_c1" and r["label"] == "ours")
    assert c16["open_fds"] >= c1["open_fds"] + 15  # 16 pooled connections, all idle, none closed
    md = (out / "scaling.md").read_text()
    assert "### h1 connections [asyncio]: client CPU µs per request / client RSS, pool idle" in md
    assert "| 16 |" in md
    assert "RSS per idle connection" in md
    assert "### body bytes [asyncio]" in md and "| 1 KiB |" in md


def test_native_reqwest_flags_and_absence(tmp_path: Path) -> None:
    """The Rust driver learns a scenario from flags; without cargo its column says why."""
    sys.path.insert(0, str(BENCH))
    try:
        import native
        from scenarios import SCENARIOS
    finally:
        sys.path.remove(str(BENCH))
    flags = native.scenario_flags(SCENARIOS["post_1m"])
    assert dict(zip(flags[::2], flags[1::2], strict=True)) == {
        "--path": "/upload", "--method": "POST", "--concurrency": "1", "--upload": "1048576",
        "--expect": "2", "--stream": "0", "--http": "1", "--proto-len": "6",
    }  # fmt: skip
    env = {**os.environ, "PATH": "/nonexistent", "HOME": str(tmp_path)}  # no cargo anywhere
    code = "import native\ntry:\n native.build()\nexcept native.NativeUnavailable as e:\n print(e)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=BENCH, env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert proc.stdout.strip() == "cargo is not installed on this machine", proc.stderr


@pytest.mark.skipif(not (BENCH.parent / ".bench/native_reqwest/target/release").is_dir(),
                    reason="the native reqwest client is not built (make bench builds it)")
def test_native_reqwest_driver(tmp_path: Path) -> None:
    """The Rust client speaks the driver protocol: the runner reads its line like any other."""
    _run_bench(tmp_path, "--clients", "reqwest", "--scenarios", "get_tiny,get_1m_stream",
               "--loops", "asyncio")  # fmt: skip
    results = json.loads((tmp_path / "out/latest.json").read_text())
    assert {r["scenario"] for r in results} == {"get_tiny", "get_1m_stream"}
    for r in results:
        assert "error" not in r and "unsupported" not in r, r
        assert r["requests"] == 50 and r["version"].startswith("reqwest")
        for key in FIGURES:
            assert isinstance(r[key], float) and r[key] > 0, (r["scenario"], key, r[key])
