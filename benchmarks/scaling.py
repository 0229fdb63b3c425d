"""`--scaling` (issue 18): CPU per request and client RSS against concurrency and body size, as a
markdown table and a PNG; from the same aggregated cells as the main report.

Cost per request should stay flat (or fall) as concurrency grows: a rise from 64 to 1024 is
flagged, as the sign of O(n) work per request in a pool, a timer or a stream table, unless bare
reqwest grows as much (then it is the kernel's and the server's share: more sockets, colder
caches). Memory per
idle connection is the RSS slope between the smallest and largest HTTP/1.1 concurrency (RSS is
taken right after the timed loop, every connection idle in the pool). Against body size the RSS
shown is the peak (a buffered 64 MiB body is freed before the loop ends).
"""

from __future__ import annotations

from pathlib import Path

from report import NATIVE, Key, fmt
from scenarios import SCENARIOS, SERIES_BODY, SERIES_H1, SERIES_H2

GROWTH_FLAG = 1.3  # CPU/request at the largest concurrency ÷ at 64 from which a series is flagged
SERIES = (SERIES_H1, SERIES_H2, SERIES_BODY)


def points(agg: dict[Key, dict], series: str, client: str, loop: str) -> list[tuple[int, dict]]:
    """(x, cell) of one client's measured points of a series, by x."""
    out = []
    for (scen, lp, c), cell in agg.items():
        sc = SCENARIOS[scen].scaling
        if sc and sc[0] == series and c == client and lp == loop and "na" not in cell:
            out.append((sc[1], cell))
    return sorted(out, key=lambda p: p[0])


def x_label(series: str, x: int) -> str:
    """A point's label: a count, or a body size in KiB / MiB."""
    if series != SERIES_BODY:
        return str(x)
    return f"{x >> 20} MiB" if x >= 1 << 20 else f"{x >> 10} KiB"


def growth(pts: list[tuple[int, dict]]) -> float | None:
    """CPU µs/request at the largest concurrency ÷ at 64 (None without both points)."""
    by = dict(pts)
    last = max(by, default=None)
    if 64 not in by or last is None or last <= 64:
        return None
    return by[last]["cpu_us_per_req"] / by[64]["cpu_us_per_req"]


def idle_kib(pts: list[tuple[int, dict]]) -> float | None:
    """RSS slope, KiB per connection, between the smallest and largest concurrency."""
    if len(pts) < 2 or not pts[0][1].get("rss_kib") or not pts[-1][1].get("rss_kib"):
        return None
    (x0, c0), (x1, c1) = pts[0], pts[-1]
    return (c1["rss_kib"] - c0["rss_kib"]) / (x1 - x0)


def rss_of(series: str, cell: dict) -> float | None:
    """The RSS a series shows, MiB: the peak for bodies, else the idle-pool one."""
    kib = cell.get("max_rss_kib" if series == SERIES_BODY else "rss_kib")
    return kib / 1024 if kib else None


def markdown(agg: dict[Key, dict], clients: list[str], loops: list[str], head: list[str]) -> str:
    out = [*head, ""]
    for loop in loops:
        for series in SERIES:
            have = [c for c in clients if points(agg, series, c, loop)]
            if not have:
                continue
            xs = sorted({x for c in have for x, _ in points(agg, series, c, loop)})
            rss_kind = "peak RSS" if series == SERIES_BODY else "RSS, pool idle"
            out += [f"### {series} [{loop}]: client CPU µs per request / client {rss_kind} MiB", ""]
            out += ["| " + " | ".join([series, *have]) + " |", "|---|" + "---:|" * len(have)]
            for x in xs:
                cells = []
                for c in have:
                    cell = dict(points(agg, series, c, loop)).get(x)
                    mib = rss_of(series, cell) if cell else None
                    rss = f" / {mib:.0f}" if mib else ""
                    cells.append(f"{fmt(cell['cpu_us_per_req'])}{rss}" if cell else "n/a")
                out.append(f"| {x_label(series, x)} | " + " | ".join(cells) + " |")
            out.append("")
            if series != SERIES_BODY:
                out += summary(agg, series, have, loop)
    return "\n".join(out)


def summary(agg: dict[Key, dict], series: str, clients: list[str], loop: str) -> list[str]:
    """Per client: growth of CPU/request past 64, memory per idle connection (or stream)."""
    unit = "connection" if series == SERIES_H1 else "stream"
    native = growth(points(agg, series, NATIVE, loop))
    lines = []
    for c in clients:
        pts = points(agg, series, c, loop)
        g, kib = growth(pts), idle_kib(pts)
        # growth beyond what bare reqwest shows on the same machine and server
        excess = g / native if g is not None and native and c != NATIVE else g
        # bare reqwest is the reference: its own growth is the machine's, never flagged
        flag = c != NATIVE and excess is not None and excess >= GROWTH_FLAG
        vs = f" (÷ {NATIVE}'s {native:.2f}: {excess:.2f})" if excess != g else ""
        g_txt = "—" if g is None else f"{g:.2f}{vs}" + (" ⚠ grows" if flag else "")
        kib_txt = "—" if kib is None else f"{kib:.1f} KiB"
        lines.append(f"- {c}: CPU/request at {pts[-1][0]} ÷ at 64: {g_txt}; RSS per idle "
                     f"{unit} (slope {pts[0][0]}→{pts[-1][0]}): {kib_txt}")
    return [*lines, ""]


def plot(agg: dict[Key, dict], clients: list[str], loop: str, path: Path, title: str) -> None:
    import matplotlib  # only in the runner's tool venv

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, grid = plt.subplots(2, len(SERIES), figsize=(5.5 * len(SERIES), 8))
    for col, series in enumerate(SERIES):
        cpu_ax, rss_ax = grid[0][col], grid[1][col]
        for i, c in enumerate(clients):
            pts = points(agg, series, c, loop)
            if not pts:
                continue
            style = {"marker": "o", "label": c, "color": f"C{i}"}  # one colour per client
            xs = [x for x, _ in pts]
            cpu_ax.plot(xs, [p["cpu_us_per_req"] for _, p in pts], **style)
            rss = [(x, m) for x, p in pts if (m := rss_of(series, p))]
            rss_ax.plot([x for x, _ in rss], [m for _, m in rss], **style)
        rss_what = "client peak RSS MiB" if series == SERIES_BODY else "client RSS MiB, pool idle"
        for ax, what in ((cpu_ax, "client CPU µs / request"), (rss_ax, rss_what)):
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel(series)
            ax.set_title(f"{what} vs {series}", fontsize=9)
            ax.grid(which="both", alpha=0.3)
        cpu_ax.legend(fontsize=8)
    fig.suptitle(f"{title} [{loop}]", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=100)
    plt.close(fig)
