"""A run's results as a Markdown report (the PNG is bench.plot's). BENCHMARKS.md is rewritten
above its notes marker; the hand-written notes below it are kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import projection
from bench.plot import plot
from bench.points import CONNECTIONS, routers_ms
from bench.targets import client_cores, evaluate

NOTES_MARKER = "<!-- notes: everything below this line is kept when the suite rewrites the file -->"


def _cpu(point: dict[str, Any]) -> str:
    c = point["cpu_ms"]
    if point["server"] == "orthanc":
        return f"{c.get('orthanc', 0):.2f}"
    return f"{routers_ms(c):.2f}+{c.get('workers', 0):.2f}+{c.get('orthanc', 0):.2f}"


def _lat(p: dict[str, Any]) -> str:
    return f"{p['p50_ms']:.1f} / {p['p95_ms']:.1f} / {p['p99_ms']:.1f} / {p['max_ms']:.0f}"


def _pairs(points: list[dict[str, Any]], mode: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    ours = [p for p in points if p["mode"] == mode and p["server"] == "wadofarm"]
    pairs = []
    for p in ours:
        for q in points:
            if (
                q["server"] == "orthanc"
                and q["mode"] == mode
                and q["scenario"] == p["scenario"]
                and q["concurrency"] == p["concurrency"]
                and q["rate"] == p["rate"]
            ):
                pairs.append((p, q))
                break
    return pairs


def side_by_side(points: list[dict[str, Any]], mode: str) -> list[str]:
    load = "conns" if mode == "closed" else "rate/s"
    lines = [
        f"| scenario | {load} | wadofarm req/s | Orthanc req/s | x | wadofarm p50 / p95 / p99 / "
        "max ms | Orthanc p50 / p95 / p99 / max ms | errors w / O | wadofarm CPU ms/req "
        "routers+workers+Orthanc | Orthanc CPU ms/req | KB w / O | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p, q in _pairs(points, mode):
        ratio = p["rps"] / q["rps"] if q["rps"] else float("inf")
        what = p["concurrency"] if mode == "closed" else f"{p['rate']:g}"
        lines.append(
            f"| {p['scenario']} | {what} | {p['rps']:.0f} | {q['rps']:.0f} | {ratio:.2f} | "
            f"{_lat(p)} | {_lat(q)} | {p['errors']} / {q['errors']} | {_cpu(p)} | {_cpu(q)} | "
            f"{p['mean_bytes'] / 1000:.1f} / {q['mean_bytes'] / 1000:.1f} | "
            f"{p['load1']:.1f} |"
        )
    return lines


def markdown(results: dict[str, Any], command: str, plot: str | None) -> str:
    m = results["machine"]
    o = results["options"]
    before = ", ".join(f"{x:.2f}" for x in m.get("load_before", ()))
    after = ", ".join(f"{x:.2f}" for x in m.get("load_after", ()))
    out = [
        "# Benchmarks: wadofarm against Orthanc's own /wado, side by side",
        "",
        f"Made by `{command}` on {m['started']} at commit `{m['commit']}`.",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Linux "
        f"{m['kernel']}, Python {m['python']}, Orthanc {m.get('orthanc', '?')} with the "
        "DICOMweb and GDCM plugins. The load generator runs on the same cores.",
        f"- Load average (1, 5, 15 min) before the run: {before}; after: {after}. The `load` "
        "column is the 1-minute figure at the end of each row: other work on the machine "
        "shows there.",
        f"- Series: {o['slices']} synthetic CT slices, 512x512 int16 (uncompressed, JPEG 2000 "
        "lossless) and 8-bit JPEG baseline; the same URLs go to both servers, "
        f"{o['duration']} s per row after a {o['warmup']} s warm-up; wadofarm runs "
        f"{o['workers']} render workers. Cold scenarios run wadofarm with its caches off "
        "(`--cache-mb 0 --frame-cache-mb 0`), so every request fetches, decodes and renders; "
        "the window drag runs with the render cache off and the frame cache on.",
        "- CPU columns: milliseconds of CPU per answered request from /proc; wadofarm's "
        "includes the Orthanc work it causes (file fetches, lookups).",
        "",
        "## Targets",
        "",
        f"Each target is stated at {CONNECTIONS} connections; `conns` is the concurrency its "
        "figures were measured at in this run (the nearest the run had).",
        "",
        "| target | conns | measured | met |",
        "|---|---:|---|---|",
    ]
    for v in evaluate(results):
        met = "n/a" if v.met is None else ("yes" if v.met else "**no**")
        conns = "-" if v.connections is None else str(v.connections)
        out.append(f"| {v.target} | {conns} | {v.measured} | {met} |")
    out += ["", "## Closed loop (N connections, each waits for its answer)", ""]
    out += side_by_side(results["points"], "closed")
    if any(p["mode"] == "open" for p in results["points"]):
        out += [
            "",
            "## Open loop (requests start on a fixed schedule; latency from the scheduled start)",
            "",
        ]
        out += side_by_side(results["points"], "open")
    out += [
        "",
        "## The renderer alone (one process, files in memory: the ceiling of one worker)",
        "",
        "| scenario | CPU ms/render | renders per CPU-second | x workers |",
        "|---|---:|---:|---:|",
    ]
    workers = int(o.get("workers", 1))
    for name, c in results["ceilings"].items():
        out.append(
            f"| {name} | {c['cpu_ms']:.2f} | {c['per_core']:.0f} | {c['per_core'] * workers:.0f} |"
        )
    out += several_routers(results["points"])
    projected = projection.markdown(results)
    if projected:
        out += ["", *projected]
    if plot:
        out += [
            "",
            f"![wadofarm ÷ Orthanc per scenario, throughput against connections, p99, and 1 "
            f"against 2 routers beside the router's floors]({plot})",
        ]
    return "\n".join(out) + "\n"


def several_routers(points: list[dict[str, Any]]) -> list[str]:
    """The routers scenario: 1 and 2 routers, same workers, each started fresh."""
    rows = [p for p in points if p["scenario"].startswith(("routers_", "floor_"))]
    if not rows:
        return []
    out = [
        "",
        "## Several routers on one port (`--routers`, same render workers in total)",
        "",
        "Each row a freshly started wadofarm, warmed up, then driven at the row's connections. "
        "Hit rate: render-cache hits over look-ups during the row (and from the fresh start, "
        "warm-up included). CPU in ms per answered request; the load generator runs on the "
        "same cores (`wrk` where installed, else the suite's Python client): its share is the "
        "`client cores` column. The `floor_` rows are the least a router process can spend "
        "(bench.floor, same wrk, same connections): `floor_bare` a bare aiohttp + uvloop "
        "handler answering a cached 3 KB body (a render-cache hit with no code of wadofarm's), "
        "`floor_hop` that plus one round trip to a child process over a socketpair (a render "
        "with nothing but the hop to a worker).",
        "",
        "| scenario | routers | conns | req/s | x 1 router | p50 / p95 / p99 / max ms | "
        "hit rate (fresh) | CPU ms/req routers+workers+Orthanc | load generator ms/req | "
        "client cores | errors | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ones = {p["scenario"]: p for p in rows if p["routers"] == 1}
    for p in rows:
        one = ones.get(p["scenario"])
        ratio = f"{p['rps'] / one['rps']:.2f}" if one and one["rps"] else "?"
        rate = p.get("hit_rate")
        fresh = p.get("hit_rate_fresh")
        shown = "-" if rate is None else f"{100 * rate:.1f}%"
        if fresh is not None:
            shown += f" ({100 * fresh:.1f}%)"
        c = p["cpu_ms"]
        out.append(
            f"| {p['scenario']} | {p['routers']} | {p['concurrency']} | {p['rps']:.0f} | "
            f"{ratio} | {_lat(p)} | {shown} | {_cpu(p)} | "
            f"{p.get('load_generator', 'python')} {c.get('client', 0):.3f} | "
            f"{client_cores(p):.2f} | {p['errors']} | {p['load1']:.1f} |"
        )
    return out


def write_benchmarks(path: Path, text: str) -> None:
    """Replace the generated part of `path`, keep its notes."""
    notes = ""
    if path.exists():
        old = path.read_text()
        if NOTES_MARKER in old:
            notes = old.split(NOTES_MARKER, 1)[1]
    path.write_text(text + "\n" + NOTES_MARKER + (notes or "\n"))


def write_section(path: Path, text: str, start: str, end: str) -> None:
    """Put a section between `start` and `end` among BENCHMARKS.md's kept notes (below the
    suite's marker), replacing the previous one: `python -m bench run` rewrites only what is
    above, and `bench scale` and `bench prewarm` each own one such section."""
    old = path.read_text() if path.exists() else ""
    if start in old and end in old:
        before, rest = old.split(start, 1)
        after = rest.split(end, 1)[1].lstrip("\n")
        path.write_text(before + text + ("\n" + after if after else ""))
        return
    if NOTES_MARKER not in old:
        old += ("\n" if old and not old.endswith("\n") else "") + NOTES_MARKER + "\n"
    path.write_text(old + "\n" + text)


__all__ = ["markdown", "plot", "write_benchmarks", "write_section"]
