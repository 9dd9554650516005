"""The issue's targets, judged from one run's points (wadofarm and Orthanc side by side)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.points import find, routers_ms
from bench.projection import projections

NO_FETCH_SHARE = 0.25  # a drag costing Orthanc under a quarter of a fetch per request: no fetches


# Throughput targets: wadofarm's req/s at least this many times Orthanc's /wado, at
# bench.points.CONNECTIONS connections (the plot draws them too).
RATIO_TARGETS: dict[str, float] = {
    "cold_thumbnails": 3.0,
    "cold_full": 1.5,
    "hot_zipf": 15.0,
    "window_drag": 5.0,
    "j2k_thumbnails": 5.0,
    "j2k_full": 1.0,
}


@dataclass(frozen=True, slots=True)
class Verdict:
    target: str
    measured: str
    met: bool | None  # None: the run did not measure it
    connections: int | None = None  # the concurrency the figures were measured at


Judge = Callable[[dict[str, Any]], Verdict]


def _ratio(target: str, scenario: str, factor: float) -> Judge:
    def judge(results: dict[str, Any]) -> Verdict:
        ours = find(results["points"], scenario, "wadofarm")
        theirs = find(results["points"], scenario, "orthanc")
        if ours is None or theirs is None or not theirs["rps"]:
            return Verdict(target, "not measured", None)
        ratio = ours["rps"] / theirs["rps"]
        return Verdict(
            target,
            f"{ours['rps']:.0f} vs {theirs['rps']:.0f} req/s = {ratio:.2f}x",
            ratio >= factor,
            ours["concurrency"],
        )

    return judge


def _thumb_latency(results: dict[str, Any]) -> Verdict:
    target = "cold thumbnails: p99 below Orthanc's p50"
    ours = find(results["points"], "cold_thumbnails", "wadofarm")
    theirs = find(results["points"], "cold_thumbnails", "orthanc")
    if ours is None or theirs is None:
        return Verdict(target, "not measured", None)
    return Verdict(
        target,
        f"p99 {ours['p99_ms']:.1f} ms vs Orthanc p50 {theirs['p50_ms']:.1f} ms",
        ours["p99_ms"] < theirs["p50_ms"],
        ours["concurrency"],
    )


def _no_fetch(results: dict[str, Any]) -> Verdict:
    """Orthanc's CPU per wadofarm request while dragging, against the same in cold full-size,
    where every request fetches the file once: a drag that re-fetched would cost as much."""
    target = "window drag: no Orthanc fetch per re-window"
    ours = find(results["points"], "window_drag", "wadofarm")
    cold = find(results["points"], "cold_full", "wadofarm")
    if ours is None or cold is None:
        return Verdict(target, "not measured", None)
    used = ours["cpu_ms"].get("orthanc", 0.0)
    per_fetch = cold["cpu_ms"].get("orthanc", 0.0)
    return Verdict(
        target,
        f"Orthanc {used:.3f} ms CPU per request, against {per_fetch:.3f} with one fetch each",
        used < NO_FETCH_SHARE * per_fetch,
        ours["concurrency"],
    )


def _ceiling(results: dict[str, Any]) -> Verdict:
    target = "cold thumbnails: >= 70% of renderer-alone ceiling x workers"
    ours = find(results["points"], "cold_thumbnails", "wadofarm")
    alone = results["ceilings"].get("cold_thumbnails")
    if ours is None or not alone:
        return Verdict(target, "not measured", None)
    workers = int(results["options"].get("workers", 1))
    ceiling = alone["per_core"] * workers
    share = ours["rps"] / ceiling if ceiling else 0.0
    return Verdict(
        target,
        f"{ours['rps']:.0f} req/s of {ceiling:.0f} ({alone['per_core']:.0f}/s x {workers}) "
        f"= {100 * share:.0f}%",
        share >= 0.7,
        ours["concurrency"],
    )


def routers_rows(points: list[dict[str, Any]], scenario: str) -> dict[int, dict[str, Any]]:
    """The routers scenario's rows of `scenario` (routers_hot, routers_cold), by router count."""
    return {p["routers"]: p for p in points if p["scenario"] == scenario and "routers" in p}


def client_cores(point: dict[str, Any]) -> float:
    """Cores the load generator used during the row."""
    return float(point["cpu_ms"].get("client", 0.0)) * float(point["rps"]) / 1000.0


def _two_routers(results: dict[str, Any]) -> Verdict:
    target = "render-cache hits with 2 routers >= 1.4x 1 router (same workers)"
    rows = routers_rows(results["points"], "routers_hot")
    if 1 not in rows or 2 not in rows or not rows[1]["rps"]:
        return Verdict(target, "not measured", None)
    one, two = rows[1], rows[2]
    ratio = two["rps"] / one["rps"]
    return Verdict(
        target,
        f"{two['rps']:.0f} vs {one['rps']:.0f} req/s = {ratio:.2f}x; the load generator used "
        f"{client_cores(two):.2f} and {client_cores(one):.2f} of the 2 cores",
        ratio >= 1.4,
        two["concurrency"],
    )


def _hit_rate(results: dict[str, Any]) -> Verdict:
    target = "hot (Zipf) render-cache hit rate with 2 routers within 5 points of 1 router"
    rows = routers_rows(results["points"], "routers_hot")
    if 1 not in rows or 2 not in rows or rows[1]["hit_rate"] is None:
        return Verdict(target, "not measured", None)
    one, two = (100 * (rows[n]["hit_rate"] or 0.0) for n in (1, 2))
    fresh_one, fresh_two = (rows[n].get("hit_rate_fresh") for n in (1, 2))
    shown = ""
    if fresh_one is not None and fresh_two is not None:
        shown = (
            f" (from a fresh server, warm-up included: {100 * fresh_two:.1f}% vs "
            f"{100 * fresh_one:.1f}%)"
        )
    return Verdict(
        target, f"{two:.1f}% vs {one:.1f}%{shown}", one - two <= 5.0, rows[2]["concurrency"]
    )


def _floor(results: dict[str, Any], name: str) -> str:
    """The floor row's router CPU per request (bench.floor), as a clause for the verdict."""
    rows = routers_rows(results["points"], name)
    if 1 not in rows:
        return ""
    what = "a bare aiohttp handler" if name == "floor_bare" else "aiohttp + one worker hop"
    return f"; floor, {what}: {routers_ms(rows[1]['cpu_ms']):.3f} ms"


def _router_cpu(target: str, scenario: str, limit: float, floor: str) -> Judge:
    """Router CPU per request of the routers scenario's 1-router row (a fresh server)."""

    def judge(results: dict[str, Any]) -> Verdict:
        rows = routers_rows(results["points"], scenario)
        if 1 not in rows:
            return Verdict(target, "not measured", None)
        ms = routers_ms(rows[1]["cpu_ms"])
        return Verdict(
            target, f"{ms:.3f} ms{_floor(results, floor)}", ms <= limit, rows[1]["concurrency"]
        )

    return judge


def _dicomweb_cpu(what: str, scenario: str) -> Judge:
    """The DICOMweb rendered route's router CPU per request against /wado's for the same
    renders (1 router each, fresh servers, one run): no worse, within the 5% two runs of the
    same row differ by on this shared machine."""
    target = f"DICOMweb rendered router CPU per {what} <= /wado's (+5%)"

    def judge(results: dict[str, Any]) -> Verdict:
        wado = routers_rows(results["points"], scenario).get(1)
        dicomweb = routers_rows(results["points"], f"{scenario}_dicomweb").get(1)
        if wado is None or dicomweb is None:
            return Verdict(target, "not measured", None)
        ours, theirs = routers_ms(dicomweb["cpu_ms"]), routers_ms(wado["cpu_ms"])
        return Verdict(
            target,
            f"{ours:.3f} ms vs {theirs:.3f} ms ({ours / theirs:.2f}x)",
            ours <= 1.05 * theirs,
        )

    return judge


def _workers_orthanc(results: dict[str, Any]) -> Verdict:
    target = "render workers + Orthanc's side <= 1.0 ms per cold thumbnail (fresh server)"
    rows = routers_rows(results["points"], "routers_cold")
    if 1 not in rows:
        return Verdict(target, "not measured", None)
    cpu = rows[1]["cpu_ms"]
    ms = cpu.get("workers", 0.0) + cpu.get("orthanc", 0.0)
    alone = results.get("ceilings", {}).get("cold_thumbnails", {}).get("cpu_ms")
    shown = f"; the renderer alone: {alone:.2f} ms" if alone else ""
    return Verdict(
        target,
        f"{cpu.get('workers', 0.0):.2f} + {cpu.get('orthanc', 0.0):.2f} = {ms:.2f} ms{shown}",
        ms <= 1.0,
        rows[1]["concurrency"],
    )


def _projected(results: dict[str, Any]) -> Verdict:
    target = "projected cold thumbnails on 16 cores >= 4x Orthanc's /wado on 16 cores"
    rows = [p for p in projections(results, "cold_thumbnails") if p.cores == 16]
    if not rows or rows[0].ratio is None:
        return Verdict(target, "not measured", None)
    p = rows[0]
    measured = find(results["points"], "cold_thumbnails", "wadofarm")  # the CPU it projects
    return Verdict(
        target,
        f"{p.wadofarm:,.0f} vs {p.orthanc:,.0f} req/s = {p.ratio:.2f}x "
        f"({p.routers} router(s), limit: {p.limit}; with {p.routers_for_cpu} routers "
        f"{p.by_cpu / (p.orthanc or 1):.2f}x)",
        p.ratio is not None and p.ratio >= 4.0,
        measured["concurrency"] if measured else None,
    )


def _times(scenario: str) -> str:
    factor = RATIO_TARGETS[scenario]
    return "no slower than Orthanc" if factor == 1.0 else f">= {factor:g}x Orthanc"


JUDGES: list[Judge] = [
    _ratio(
        f"cold thumbnails: {_times('cold_thumbnails')} req/s",
        "cold_thumbnails",
        RATIO_TARGETS["cold_thumbnails"],
    ),
    _thumb_latency,
    *(
        _ratio(f"{title}: {_times(name)}", name, RATIO_TARGETS[name])
        for name, title in (("cold_full", "cold full-size"), ("hot_zipf", "hot (Zipf)"))
    ),
    _ratio(f"window drag: {_times('window_drag')}", "window_drag", RATIO_TARGETS["window_drag"]),
    _no_fetch,
    *(
        _ratio(f"{title}: {_times(name)}", name, RATIO_TARGETS[name])
        for name, title in (
            ("j2k_thumbnails", "JPEG 2000 thumbnails"),
            ("j2k_full", "JPEG 2000 full-size"),
        )
    ),
    _ceiling,
    _router_cpu(
        "router CPU <= 0.15 ms per cold thumbnail (fresh server)",
        "routers_cold",
        0.15,
        "floor_hop",
    ),
    _router_cpu("router CPU <= 0.08 ms per render-cache hit", "routers_hot", 0.08, "floor_bare"),
    _dicomweb_cpu("render-cache hit", "routers_hot"),
    _dicomweb_cpu("cold thumbnail", "routers_cold"),
    _workers_orthanc,
    _two_routers,
    _hit_rate,
    _projected,
]


def evaluate(results: dict[str, Any]) -> list[Verdict]:
    return [judge(results) for judge in JUDGES]
