"""Turns the drivers' JSON lines into medians, markdown tables (with ratios to the original
pyqwest) and a PNG plot."""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

from scenarios import SCENARIOS

BASELINE = "pyqwest"  # the original, the one every ratio is taken against
NATIVE = "reqwest"  # the engine the original wraps, bare: "ours ÷ reqwest" gets its own column
SERVER_BOUND = 90  # server CPU % from which a run's req/s and latency are the server's limit
METRICS = (  # key, heading, which way is better
    ("cpu_us_per_req", "client CPU µs per request (user+sys, all threads)", "lower"),
    ("rps", "requests per second", "higher"),
    ("p50_us", "p50 latency µs", "lower"),
    ("p99_us", "p99 latency µs", "lower"),
)

IDLE_STATE = ("rss_kib", "max_rss_kib", "open_fds")  # taken after the timed loop, connections idle
Key = tuple[str, str, str]  # scenario, loop, client


def aggregate(results: list[dict]) -> dict[Key, dict]:
    """Median of each metric over the reps; n/a and errors kept with their reason."""
    runs: dict[Key, list[dict]] = defaultdict(list)
    for r in results:
        runs[(r["scenario"], r["loop"], r["label"])].append(r)
    out: dict[Key, dict] = {}
    for key, rs in runs.items():
        ok = [r for r in rs if "error" not in r and "unsupported" not in r]
        if ok:
            cell = {m: statistics.median(r[m] for r in ok) for m, _, _ in METRICS}
            for m in IDLE_STATE:  # older drivers' lines lack them
                if all(m in r for r in ok):
                    cell[m] = statistics.median(r[m] for r in ok)
            srv = [r["server_cpu_pct"] for r in ok if r.get("server_cpu_pct") is not None]
            cell["server_cpu_pct"] = max(srv) if srv else None
            cell["requests"] = statistics.median(r["requests"] for r in ok)
            cell["reps"] = len(ok)
            cpu = [r["cpu_us_per_req"] for r in ok]
            cell["cpu_spread"] = (max(cpu) - min(cpu)) / cell["cpu_us_per_req"]
            cell["failed"] = len(rs) - len(ok)
        else:
            # n/a: the client cannot do it; error: it should, and failed (a finding, not a gap)
            err = next((r["error"] for r in rs if "error" in r), None)
            cell = {"na": rs[0].get("unsupported") or err, "error": err is not None}
        out[key] = cell
    return out


def fmt(v: float) -> str:
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def rows_of(agg: dict[Key, dict]) -> list[tuple[str, str]]:
    seen = {(s, lp) for s, lp, _ in agg}
    order = list(SCENARIOS)
    return sorted(seen, key=lambda r: (order.index(r[0]), r[1] != "asyncio", r[1]))


def native_ratio(agg: dict[Key, dict], scen: str, loop: str, metric: str) -> str:
    """ours ÷ native reqwest in one row ("—" where either is missing)."""
    ours, nat = (agg.get((scen, loop, c), {}).get(metric) for c in ("ours", NATIVE))
    return f"{ours / nat:.2f}" if ours and nat else "—"


def table(agg: dict[Key, dict], clients: list[str], metric: str) -> list[str]:
    vs_native = "ours" in clients and NATIVE in clients
    extra = [f"ours ÷ {NATIVE}"] if vs_native else []
    head = ["scenario", "loop", *clients, *extra, "server CPU %"]
    lines = [
        "| " + " | ".join(head) + " |",
        "|---|---|" + "---:|" * (len(clients) + len(extra) + 1),
    ]
    for scen, loop in rows_of(agg):
        base = agg.get((scen, loop, BASELINE), {}).get(metric)
        cells, srv = [], []
        for c in clients:
            cell = agg.get((scen, loop, c))
            if cell is None:
                cells.append("—")
            elif "na" in cell:
                cells.append("error" if cell["error"] else "n/a")
            else:
                v = cell[metric]
                ratio = f" ({v / base:.2f})" if base and c != BASELINE else ""
                bound = (cell["server_cpu_pct"] or 0) >= SERVER_BOUND
                cells.append(fmt(v) + ratio + (" †" if bound else ""))
                if cell["server_cpu_pct"] is not None:
                    srv.append(cell["server_cpu_pct"])
        if vs_native:
            cells.append(native_ratio(agg, scen, loop, metric))
        srv_txt = f"≤ {max(srv):.0f}" if srv else "—"
        lines.append(
            f"| {SCENARIOS[scen].title} | {loop} | " + " | ".join(cells) + f" | {srv_txt} |"
        )
    return lines


def spread_note(agg: dict[Key, dict]) -> list[str]:
    """How far the reps of one cell lie apart: the noise to read the ratios against."""
    spreads = sorted(
        (cell["cpu_spread"], key) for key, cell in agg.items() if cell.get("reps", 0) > 1
    )
    if not spreads:
        return []
    worst, (scen, loop, client) = spreads[-1]
    mid = statistics.median(s for s, _ in spreads)
    return [
        f"Spread of client CPU µs/request between reps ((max − min) / median): median "
        f"{100 * mid:.0f} %, largest {100 * worst:.0f} % ({client}, {scen}, {loop}).",
        "",
    ]


def preemption_note(results: list[dict]) -> list[str]:
    """Other work on the machine shows as the client being preempted; say how much there was."""
    # one-thread clients only: a client's own runtime threads preempt each other on its CPU
    per_k = sorted(
        1000 * r["preempted"] / r["requests"]
        for r in results
        if r.get("requests") and r.get("threads") == 1
    )
    if not per_k:
        return []
    mid = statistics.median(per_k)
    return [
        f"One-thread clients were preempted (involuntary context switches) {mid:.1f} times "
        f"per 1000 requests (median; max {per_k[-1]:.0f}): other load on the machine, which "
        "shows in p99 latency (a few ms each) far more than in CPU per request.",
    ]


def feature_cost_note(agg: dict[Key, dict]) -> list[str]:
    """What OpenTelemetry costs us per request: the ours_otel row (SDK on, spans exported to
    nowhere) minus the ours row (opentelemetry-api not installed), per scenario and loop."""
    costs = [
        (scen, loop, agg[(scen, loop, "ours_otel")]["cpu_us_per_req"] - cell["cpu_us_per_req"])
        for (scen, loop, client), cell in sorted(agg.items())
        if client == "ours" and "cpu_us_per_req" in cell
        and "cpu_us_per_req" in agg.get((scen, loop, "ours_otel"), {})
    ]
    if not costs:
        return []
    parts = ", ".join(f"{scen} ({loop}) {fmt(c)}" for scen, loop, c in costs)
    return [
        f"Cost of OpenTelemetry on (ours_otel − ours, client CPU µs/request): {parts}. "
        "response.timings and the pool statistics are always on, in both rows.",
        "",
    ]


def markdown(agg: dict[Key, dict], clients: list[str], header: list[str]) -> str:
    out = [*header, ""]
    for metric, title, better in METRICS:
        out += [f"### {title} — {better} is better; in brackets: ratio to {BASELINE} 0.12", ""]
        out += table(agg, clients, metric)
        out.append("")
    out += spread_note(agg)
    out += feature_cost_note(agg)
    out += [
        f"† the server was at ≥ {SERVER_BOUND} % of its CPU in that run: its req/s and latency "
        "are the server's limit there (its CPU µs per request is still the client's own).",
        "",
    ]
    for kind, is_err in (("n/a", False), ("error", True)):
        notes = sorted(
            {
                (c, s, cell["na"])
                for (s, _, c), cell in agg.items()
                if "na" in cell and cell["error"] == is_err
            }
        )
        if notes:
            out += [f"{kind}:", ""] + [f"- {c}, {s}: {why}" for c, s, why in notes] + [""]
    failed = sum(cell.get("failed", 0) for cell in agg.values())
    if failed:
        out += [f"{failed} run(s) failed and were left out of the medians (see the JSON).", ""]
    return "\n".join(out)


def plot(agg: dict[Key, dict], clients: list[str], path: Path, title: str) -> None:
    import matplotlib  # only in the runner's tool venv

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = rows_of(agg)
    labels = [f"{SCENARIOS[s].title}" + (f" [{lp}]" if lp != "asyncio" else "") for s, lp in rows]
    # 2x2 panels sharing the row labels; bar length on a log scale (httpx is ~10x the others)
    tall = 2 + 0.45 * len(rows) * max(1.0, len(clients) / 3)
    fig, grid = plt.subplots(2, 2, figsize=(16, tall), sharey=True)
    axes = grid.flatten()
    height = 0.8 / max(1, len(clients))
    for ax, (metric, mtitle, better) in zip(axes, METRICS, strict=True):
        for i, c in enumerate(clients):
            ys, xs = [], []
            for j, (s, lp) in enumerate(rows):
                cell = agg.get((s, lp, c))
                if cell and "na" not in cell:
                    ys.append(j + i * height)
                    xs.append(cell[metric])
            ax.barh(ys, xs, height=height, label=c)
        ax.set_xscale("log")
        ax.set_title(f"{mtitle}\n({better} is better)", fontsize=9)
        ax.grid(axis="x", which="both", alpha=0.3)
    axes[0].set_yticks([j + 0.4 - height / 2 for j in range(len(rows))], labels, fontsize=8)
    axes[2].tick_params(labelleft=True, labelsize=8)
    axes[0].invert_yaxis()
    axes[-1].legend(fontsize=8, loc="lower right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.98))  # room for the suptitle
    fig.savefig(path, dpi=110)
    plt.close(fig)
