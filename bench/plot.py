"""BENCHMARKS.png: a run's figures drawn for a reader, headline first.

1. The headline: wadofarm's requests per second over Orthanc's /wado, per scenario, at the
   targets' concurrency, each bar beside its target.
2. Throughput against connections, one small panel per scenario, both servers.
3. p99 latency at the targets' concurrency, both servers side by side.
4. Several routers: 1 against 2 routers (same workers), and the router's CPU per request beside
   the floor (bench.floor) and the target that bound it.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from bench.points import CONNECTIONS, find, routers_ms
from bench.targets import RATIO_TARGETS

logger = logging.getLogger(__name__)

WADOFARM, ORTHANC = "#1f77b4", "#ff7f0e"  # one colour per server in every panel
COLUMNS = 3  # throughput panels per row
# The router's CPU targets and the floors that bound them (bench.targets' router CPU judges).
ROUTER_CPU = (
    ("render-cache hit", "routers_hot", 0.08, "floor_bare", "bare aiohttp"),
    ("cold thumbnail", "routers_cold", 0.15, "floor_hop", "aiohttp + worker hop"),
)


def _closed(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        p
        for p in results["points"]
        if p["mode"] == "closed" and not p["scenario"].startswith(("routers_", "floor_"))
    ]


def _rows(points: list[dict[str, Any]], scenario: str) -> dict[int, dict[str, Any]]:
    return {p["routers"]: p for p in points if p["scenario"] == scenario and "routers" in p}


def plot(results: dict[str, Any], path: Path) -> bool:
    """Draw `results` into `path`; False without matplotlib or closed-loop points."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.warning("matplotlib is not installed (pip install '.[bench]'): no plot")
        return False
    fig = figure(results)
    if fig is None:
        return False
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)
    return True


def figure(results: dict[str, Any]) -> Any:
    """The figure of `results` (a matplotlib Figure; its axes in reading order), or None
    when the run has no closed-loop points to draw."""
    import matplotlib.pyplot as plt

    closed = _closed(results)
    names = list(dict.fromkeys(p["scenario"] for p in closed))
    if not names:
        return None
    routers = [p for p in results["points"] if p["scenario"].startswith(("routers_", "floor_"))]
    grid_rows = math.ceil(len(names) / COLUMNS)
    heights = [2.6, *([2.1] * grid_rows), 2.8]
    fig = plt.figure(figsize=(12, sum(heights) + 1.2))
    grid = fig.add_gridspec(
        len(heights), COLUMNS, height_ratios=heights, hspace=0.8, top=0.94, bottom=0.05
    )
    machine = results.get("machine", {})
    fig.suptitle(
        f"wadofarm against Orthanc's /wado, side by side: {machine.get('cores', '?')} cores, "
        f"commit {machine.get('commit', '?')}, {machine.get('started', '')}",
        fontsize=11,
        y=0.985,
    )
    _headline(fig.add_subplot(grid[0, :]), closed, names)
    for index, name in enumerate(names):
        ax = fig.add_subplot(grid[1 + index // COLUMNS, index % COLUMNS])
        _throughput(ax, closed, name, legend=index == 0)
    bottom = len(heights) - 1
    _latency(fig.add_subplot(grid[bottom, 0]), closed, names)
    if routers:
        _routers(fig.add_subplot(grid[bottom, 1]), routers)
        _router_cpu(fig.add_subplot(grid[bottom, 2]), routers)
    return fig


def _headline(ax: Any, closed: list[dict[str, Any]], names: list[str]) -> None:
    """wadofarm ÷ Orthanc req/s per scenario, with each scenario's target beside its bar."""
    used, shown, ratios, conns = [], [], [], []
    for name in names:
        ours, theirs = find(closed, name, "wadofarm"), find(closed, name, "orthanc")
        if ours is None or theirs is None or not theirs["rps"]:
            continue
        used.append(name)
        shown.append(name.replace("_", " "))
        ratios.append(ours["rps"] / theirs["rps"])
        conns.append(ours["concurrency"])
    y = list(range(len(shown)))
    ax.barh(y, ratios, color=WADOFARM, height=0.6, label="wadofarm req/s ÷ Orthanc's")
    for i, (ratio, name) in enumerate(zip(ratios, used, strict=True)):
        ax.text(ratio * 1.04, i, f"{ratio:.1f}x", va="center", fontsize=9)
        target = RATIO_TARGETS.get(name)
        if target is not None:
            ax.plot([target, target], [i - 0.4, i + 0.4], color="black", linewidth=2)
    ax.plot([], [], color="black", linewidth=2, label="target")
    ax.axvline(1.0, color=ORTHANC, linestyle="--", linewidth=1, label="Orthanc (1x)")
    ax.set_yticks(y, shown)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(0.3, max([*ratios, 10]) * 2.5)
    ticks = [t for t in (0.5, 1, 2, 5, 10, 20, 50) if t <= max([*ratios, 10]) * 2.5]
    ax.set_xticks(ticks, [f"{t:g}x" for t in ticks])
    same = f"{conns[0]} connections" if len(set(conns)) == 1 else "connections as measured"
    ax.set_title(f"Throughput, wadofarm ÷ Orthanc's /wado, at {same}", fontsize=10)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(True, axis="x", alpha=0.3)


def _throughput(ax: Any, closed: list[dict[str, Any]], name: str, *, legend: bool) -> None:
    for server, style, colour in (("wadofarm", "o-", WADOFARM), ("orthanc", "s--", ORTHANC)):
        pts = sorted(
            (p for p in closed if p["scenario"] == name and p["server"] == server),
            key=lambda p: p["concurrency"],
        )
        ax.plot(
            [p["concurrency"] for p in pts],
            [p["rps"] for p in pts],
            style,
            color=colour,
            label=server,
        )
    ax.set_title(name.replace("_", " "), fontsize=9)
    ax.set_xscale("log", base=2)
    concurrencies = sorted({p["concurrency"] for p in closed if p["scenario"] == name})
    ax.set_xticks(concurrencies, [str(c) for c in concurrencies])
    ax.minorticks_off()
    ax.set_ylim(bottom=0)
    ax.set_ylabel("req/s", fontsize=8)
    ax.set_xlabel("connections", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, alpha=0.3)
    if legend:
        ax.legend(fontsize=7)


def _latency(ax: Any, closed: list[dict[str, Any]], names: list[str]) -> None:
    """p99 at the targets' concurrency, the two servers side by side per scenario."""
    labels, ours, theirs = [], [], []
    for name in names:
        a, b = find(closed, name, "wadofarm"), find(closed, name, "orthanc")
        if a is None or b is None:
            continue
        labels.append(name.replace("_", " "))
        ours.append(a["p99_ms"])
        theirs.append(b["p99_ms"])
    x = list(range(len(labels)))
    ax.bar([i - 0.2 for i in x], ours, width=0.4, color=WADOFARM, label="wadofarm")
    ax.bar([i + 0.2 for i in x], theirs, width=0.4, color=ORTHANC, label="Orthanc")
    ax.set_yscale("log")
    ax.set_xticks(x, labels, fontsize=7, rotation=35, ha="right")
    ax.set_ylabel("p99 ms (log)", fontsize=8)
    ax.set_title(f"p99 latency at {CONNECTIONS} connections", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(True, axis="y", alpha=0.3)


def _routers(ax: Any, points: list[dict[str, Any]]) -> None:
    """req/s with 1 and 2 routers (the same render workers), hot hits and cold thumbnails."""
    groups = [("render-cache hits", "routers_hot"), ("cold thumbnails", "routers_cold")]
    x = list(range(len(groups)))
    for offset, count, shade in ((-0.2, 1, "#9ecae1"), (0.2, 2, WADOFARM)):
        heights = [_rows(points, scenario).get(count, {}).get("rps", 0.0) for _, scenario in groups]
        label = "1 router" if count == 1 else f"{count} routers"
        ax.bar([i + offset for i in x], heights, width=0.4, color=shade, label=label)
        for i, height in enumerate(heights):
            if height:
                ax.text(i + offset, height, f"{height:,.0f}", ha="center", va="bottom", fontsize=7)
    labels = []
    for label, scenario in groups:
        rows = _rows(points, scenario)
        if 1 in rows and 2 in rows and rows[1]["rps"]:
            label += f"\n2 routers: {rows[2]['rps'] / rows[1]['rps']:.2f}x"
        labels.append(label)
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("req/s", fontsize=8)
    ax.set_title("1 against 2 routers, same workers", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    ax.grid(True, axis="y", alpha=0.3)
    ax.margins(y=0.25)


def _router_cpu(ax: Any, points: list[dict[str, Any]]) -> None:
    """The router's CPU per request (1 router), with the floor that bounds it and the target."""
    x = list(range(len(ROUTER_CPU)))
    for i, (_, scenario, target, floor, floor_label) in enumerate(ROUTER_CPU):
        row = _rows(points, scenario).get(1)
        if row is not None:
            ms = routers_ms(row["cpu_ms"])
            ax.bar(i, ms, width=0.5, color=WADOFARM, label="router" if i == 0 else None)
            ax.text(i, ms * 1.03, f"{ms:.2f}", ha="center", fontsize=8)
        floor_row = _rows(points, floor).get(1)
        if floor_row is not None:
            level = routers_ms(floor_row["cpu_ms"])
            ax.hlines(level, i - 0.35, i + 0.35, colors="grey", linewidth=2)
            ax.text(i + 0.37, level, f"floor:\n{floor_label}", va="center", fontsize=7)
        ax.hlines(target, i - 0.35, i + 0.35, colors="black", linestyles="--", linewidth=1.5)
    ax.plot([], [], color="grey", linewidth=2, label="floor (bench.floor)")
    ax.plot([], [], color="black", linestyle="--", linewidth=1.5, label="target")
    ax.set_xticks(x, [label for label, *_ in ROUTER_CPU], fontsize=8)
    ax.set_xlim(-0.6, len(ROUTER_CPU) - 0.1)
    ax.set_ylabel("router CPU ms per request", fontsize=8)
    ax.set_title("Router CPU per request, 1 router", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(True, axis="y", alpha=0.3)
    ax.margins(y=0.2)
