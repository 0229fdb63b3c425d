#!/usr/bin/env python3
"""Side-by-side benchmark of ours against aiohttp, httpx, pyreqwest and the original pyqwest.

    python3 benchmarks/run.py [--quick] [--reps N] [--clients a,b] [--scenarios x,y] [--n N]

Needs only python3: it makes .bench/venvs/<client> (one venv per client; ours is rebuilt from the
checkout each run) and a tool venv for certificates and the plot, starts nginx (or the fallback
server) on 127.0.0.1 pinned to one CPU, runs every client as a fresh process pinned to another,
interleaved and repeated, and writes medians to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import envs  # noqa: E402
import native  # noqa: E402
import report  # noqa: E402
import scaling  # noqa: E402
from certs import Certs, ensure_certs  # noqa: E402
from scenarios import DEFAULT_SCENARIOS, SCALING_SCENARIOS, SCENARIOS, loops_for  # noqa: E402
from servers import Server, add_h3, add_proxy, pinned, start_server  # noqa: E402

TOOL_VENV = envs.VENVS / "_tool"
LOOPS = ("asyncio", "uvloop")
# --scaling's defaults: ours beside the peers issue 18 names, on the loop its targets are for
SCALING_CLIENTS = ("ours", "pyreqwest", "aiohttp", "reqwest")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1 rep, fewer requests (~2 minutes)")
    p.add_argument(
        "--scaling",
        action="store_true",
        help="instead of the table: CPU/request and RSS vs concurrency and body size\n"
        f"(default clients {','.join(SCALING_CLIENTS)}, loop uvloop; results/scaling.*)",
    )
    p.add_argument("--reps", type=int, help="repetitions, interleaved (default 3; --quick 1)")
    p.add_argument("--clients", help=f"comma list of {', '.join(envs.CLIENTS)}")
    p.add_argument(
        "--scenarios",
        help=f"comma list of {', '.join(DEFAULT_SCENARIOS)} (default: all of them; with\n"
        "--scaling: the scale_* ones)",
    )
    p.add_argument(
        "--baseline",
        metavar="REF",
        help="also measure ours at git commit REF (column ours_base), e.g. main or HEAD~3",
    )
    p.add_argument("--loops", help="comma list of asyncio, uvloop (default both)")
    p.add_argument("--n", type=int, default=0, help="timed requests per run (default per scenario)")
    p.add_argument(
        "--max-seconds",
        type=float,
        help="cap on each timed loop, for slow clients (default 1.5; --quick 0.4)",
    )
    p.add_argument(
        "--server",
        choices=("auto", "nginx", "granian", "fallback"),
        default="auto",
        help="auto: nginx (apt-get installs it when root), else granian, else the fallback\n"
        "(stdlib asyncio, HTTP/1.1 only)",
    )
    p.add_argument("--out", type=Path, default=HERE / "results", help="where results go")
    p.add_argument(
        "--workdir",
        type=Path,
        default=envs.BENCH_DIR,
        help="certificates, server files and logs (venvs stay in .bench/venvs)",
    )
    p.add_argument(
        "--here",
        action="store_true",
        help="run every client with this interpreter, no venvs or installs (smoke test;\n"
        "the original pyqwest cannot be measured this way)",
    )
    args = p.parse_args(argv)
    clients = SCALING_CLIENTS if args.scaling else [c for c in envs.CLIENTS if c != "ours_base"]
    scenarios = SCALING_SCENARIOS if args.scaling else DEFAULT_SCENARIOS
    args.clients = _pick(args.clients or ",".join(clients), envs.CLIENTS, p)
    if args.baseline and "ours_base" not in args.clients:
        args.clients.append("ours_base")
    elif not args.baseline and "ours_base" in args.clients:
        p.error("ours_base is ours at --baseline REF: give --baseline")
    args.scenarios = _pick(args.scenarios or ",".join(scenarios), SCENARIOS, p)
    args.loops = _pick(args.loops or ("uvloop" if args.scaling else ",".join(LOOPS)), LOOPS, p)
    args.reps = args.reps or (1 if args.quick else 3)
    args.max_seconds = args.max_seconds or (0.4 if args.quick else 1.5)
    return args


def _pick(csv: str, known, parser: argparse.ArgumentParser) -> list[str]:
    names = [x for x in csv.split(",") if x]
    bad = [x for x in names if x not in known]
    if bad:
        parser.error(f"unknown: {', '.join(bad)} (known: {', '.join(known)})")
    return names


def reexec_in_tool_venv() -> None:
    """Run the rest of this script inside .bench/venvs/_tool (trustme, matplotlib, uvloop)."""
    if os.environ.get("BENCH_TOOL_VENV") == str(TOOL_VENV):
        return
    venv = envs.ensure_venv("_tool", envs.TOOL_REQUIREMENTS, envs.base_python())
    py = str(envs.python_of(venv))
    os.environ["BENCH_TOOL_VENV"] = str(TOOL_VENV)
    os.execv(py, [py, str(Path(__file__).resolve()), *sys.argv[1:]])


def raise_fd_limit() -> None:
    """Soft fd limit up to the hard one, for us and every child: --scaling opens 1024 connections
    in a client and as many in nginx."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def cpus() -> tuple[int | None, int | None]:
    """(client CPU, server CPU): two different cores, or no pinning on a 1-CPU machine."""
    mine = sorted(os.sched_getaffinity(0))
    if len(mine) < 2:
        print("warning: only one CPU: client and server share it", flush=True)
        return None, None
    return mine[0], mine[1]


def prepare_clients(
    names: list[str], here: bool, baseline: str | None = None
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """client -> the command that runs its driver; client -> why it is missing."""
    commands, missing = {}, {}
    for name in names:
        spec = envs.CLIENTS[name]
        if spec.native:
            print(f"building {name} (offline, Debian's crates) ...", flush=True)
            try:
                commands[name] = [str(native.build())]
            except native.NativeUnavailable as e:
                missing[name] = str(e)
                print(f"  {name}: {missing[name]}", flush=True)
            continue
        driver = [str(HERE / "drivers" / "driver.py"), spec.driver]
        if here:
            if name in ("pyqwest", "ours_base"):  # the import name of ours: own venv only
                missing[name] = "not measurable with --here (needs its own venv)"
            else:
                commands[name] = [sys.executable, *driver]
            continue
        print(f"preparing {name} ...", flush=True)
        try:
            venv = envs.prepare_client(spec, envs.base_python(), baseline)
            commands[name] = [str(envs.python_of(venv)), *driver]
        except subprocess.CalledProcessError as e:
            missing[name] = f"install failed ({' '.join(e.cmd[-2:])}); see .bench/venvs/{name}.log"
            print(f"  {name}: {missing[name]}", flush=True)
    return commands, missing


def make_certs(workdir: Path, here: bool) -> Certs | None:
    try:
        return ensure_certs(workdir / "tls")
    except ImportError:  # trustme: always in the tool venv, maybe not in a --here interpreter
        if not here:
            raise
        print("trustme not installed: no TLS scenarios", flush=True)
        return None


def run_one(
    command: list[str],
    client: str,
    scen: str,
    loop: str,
    server: Server,
    args,
    ca: Path | None,
    cpu: int | None,
) -> dict:
    sc = SCENARIOS[scen]
    base = {"label": client, "scenario": scen, "loop": loop}
    url = server.urls.get(sc.listener)
    if url is None:
        return {**base, "unsupported": f"the {server.name} server has no {sc.listener} listener"}
    if sc.proxy and server.proxy is None:
        return {**base, "unsupported": server.no_proxy_why}
    n = args.n or (sc.n // 4 if args.quick else sc.n)
    opts = {
        "--scenario": scen,
        "--url": url,
        "--n": n,
        "--loop": loop,
        "--max-seconds": args.max_seconds,
        "--server-pids": ",".join(map(str, server.pids)),
    }
    if ca is not None:
        opts["--ca"] = ca
    if sc.proxy:
        opts["--proxy"] = server.proxy
    cmd = [*command, *(native.scenario_flags(sc) if envs.CLIENTS[client].native else [])]
    for k, v in opts.items():
        cmd += [k, str(v)]
    try:
        p = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=120 + 4 * args.max_seconds,
            preexec_fn=pinned(cpu),
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return {**base, "error": "driver timed out"}
    try:
        out = json.loads(p.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        out = {"error": f"no JSON from driver (exit {p.returncode}): {p.stderr.strip()[-300:]}"}
    if p.returncode and "error" in out and p.stderr:
        out["stderr"] = p.stderr.strip()[-2000:]
    return {**out, **base}


def describe(r: dict) -> str:
    if "unsupported" in r:
        return "n/a: " + r["unsupported"]
    if "error" in r:
        return "ERROR: " + r["error"]
    srv = f", server {r['server_cpu_pct']:.0f}% CPU" if r.get("server_cpu_pct") is not None else ""
    return (
        f"{r['cpu_us_per_req']:.1f} µs/req CPU, {r['rps']:.0f} req/s, p50 {r['p50_us']:.0f} "
        f"p99 {r['p99_us']:.0f} µs ({r['requests']} req, preempted {r.get('preempted')}x){srv}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.here:
        reexec_in_tool_venv()
    started = time.time()
    raise_fd_limit()
    load_before = os.getloadavg()[0]
    client_cpu, server_cpu = cpus()
    commands, missing = prepare_clients(args.clients, args.here, args.baseline)
    certs = make_certs(args.workdir, args.here)
    server = start_server(args.server, args.workdir, certs, server_cpu, envs.granian_binary)
    if certs is not None and any(SCENARIOS[s].listener == "h3" for s in args.scenarios):
        add_h3(server, args.workdir, certs, server_cpu)
    if any(SCENARIOS[s].proxy for s in args.scenarios):
        add_proxy(server, args.workdir, server_cpu)
    print(f"server: {server.name} on CPU {server_cpu}; clients on CPU {client_cpu}", flush=True)
    results: list[dict] = []
    order = [c for c in args.clients if c in commands]
    total = args.reps * len(order) * sum(len(loops_for(s, args.loops)) for s in args.scenarios)
    try:
        for rep in range(args.reps):
            # Interleaved: every client runs once per scenario before the next rep; the order
            # rotates per rep so no client always runs right after the same neighbour.
            clients = order[rep % len(order) :] + order[: rep % len(order)] if order else []
            for scen in args.scenarios:
                for loop in loops_for(scen, args.loops):
                    for c in clients:
                        r = run_one(
                            commands[c], c, scen, loop, server, args, certs and certs.ca, client_cpu
                        )
                        r["rep"] = rep
                        results.append(r)
                        print(
                            f"[{len(results)}/{total}] rep {rep + 1} {scen} {loop} {c}: "
                            f"{describe(r)}",
                            flush=True,
                        )
    finally:
        server.stop()
    for c, why in missing.items():  # a column of n/a with the reason, not a silent gap
        results += [
            {"label": c, "scenario": sc, "loop": lp, "unsupported": why}
            for sc in args.scenarios
            for lp in loops_for(sc, args.loops)
        ]
    loads = (load_before, os.getloadavg()[0])
    write_outputs(args, results, server, time.time() - started, loads)
    return 0


FLOOR_NOTE = (
    "floor = minimal raw asyncio.Protocol HTTP/1.1 client (status line + Content-Length only)."
)
NATIVE_NOTE = (
    "reqwest = bare reqwest + tokio (Rust, benchmarks/native_reqwest: one current-thread runtime, "
    "rustls, built offline from Debian's crates): the lower bound of a Python client on reqwest; "
    "it has no event loop of ours, so its asyncio and uvloop rows are two runs of the same thing."
)


def versions(results: list[dict]) -> dict[str, str]:
    return {r["label"]: r["version"] for r in results if r.get("version")}


def write_outputs(
    args, results: list[dict], server: Server, elapsed: float, loads: tuple[float, float]
) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    clients = [c for c in envs.CLIENTS if c in args.clients]
    agg = report.aggregate(results)
    cmd = "python3 benchmarks/run.py " + " ".join(sys.argv[1:])
    cpu_model = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.machine(),
    )
    ver = versions(results)
    header = [
        f"## Benchmark: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"Command: `{cmd.strip()}` ({args.reps} rep(s), medians; {elapsed / 60:.1f} min).",
        f"Machine: {os.cpu_count()} CPUs, {cpu_model}; Python {platform.python_version()}; "
        # other work on the machine shows in req/s and latency far more than in CPU per request
        f"1-min load average {loads[0]:.2f} before, {loads[1]:.2f} after.",
        f"Server: {server.name} on 127.0.0.1, pinned to its own CPU; each client a fresh process "
        "pinned to another; warm-up first, every response checked (status and length).",
        "Clients: "
        + ", ".join(f"{c}: {ver.get(c, '?')}" for c in clients)
        + "."
        + (f" ours_base = ours at `{args.baseline}`." if args.baseline else ""),
        *([FLOOR_NOTE] if "floor" in clients else []),
        *([NATIVE_NOTE] if "reqwest" in clients else []),
        "Differences under ~15-20 % are noise on a 2-core machine: compare ratios within one run.",
    ]
    head = [*header, "", *report.preemption_note(results)]
    stem = "scaling" if args.scaling else "latest"  # a --scaling run never overwrites the table
    if args.scaling:
        md = scaling.markdown(agg, clients, args.loops, head)
    else:
        md = report.markdown(agg, clients, head)
    (args.out / f"{stem}.md").write_text(md)
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=1))
    title = f"{server.name} — {cmd.strip()}"
    try:
        if args.scaling:
            scaling.plot(agg, clients, args.loops[-1], args.out / "scaling.png", title)
        else:
            report.plot(agg, clients, args.out / "latest.png", title)
    except Exception as e:  # the table is the result; a broken plot must not lose it
        print(f"plot failed: {e}", flush=True)
    print("\n" + md)
    print(f"written: {args.out / stem}.md, .png, .json", flush=True)


if __name__ == "__main__":
    sys.exit(main())
