"""The issue's targets, judged from one run's points (wadofarm and Orthanc side by side)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CONNECTIONS = 32  # the targets are stated at 32 connections
NO_FETCH_SHARE = 0.25  # a drag costing Orthanc under a quarter of a fetch per request: no fetches


@dataclass(frozen=True, slots=True)
class Verdict:
    target: str
    measured: str
    met: bool | None  # None: the run did not measure it


def find(
    points: list[dict[str, Any]], scenario: str, server: str, connections: int = CONNECTIONS
) -> dict[str, Any] | None:
    candidates = [
        p
        for p in points
        if p["scenario"] == scenario and p["server"] == server and p["mode"] == "closed"
    ]
    if not candidates:
        return None
    exact = [p for p in candidates if p["concurrency"] == connections]
    if exact:
        return exact[0]
    return min(candidates, key=lambda p: abs(p["concurrency"] - connections))


def _ratio(target: str, scenario: str, factor: float) -> Callable[[dict[str, Any]], Verdict]:
    def judge(results: dict[str, Any]) -> Verdict:
        ours = find(results["points"], scenario, "wadofarm")
        theirs = find(results["points"], scenario, "orthanc")
        if ours is None or theirs is None or not theirs["rps"]:
            return Verdict(target, "not measured", None)
        ratio = ours["rps"] / theirs["rps"]
        return Verdict(
            target,
            f"{ours['rps']:.0f} vs {theirs['rps']:.0f} req/s = {ratio:.2f}x "
            f"(c={ours['concurrency']})",
            ratio >= factor,
        )

    return judge


def _thumb_latency(results: dict[str, Any]) -> Verdict:
    target = "cold thumbnails: p99 below Orthanc's p50 (c=32)"
    ours = find(results["points"], "cold_thumbnails", "wadofarm")
    theirs = find(results["points"], "cold_thumbnails", "orthanc")
    if ours is None or theirs is None:
        return Verdict(target, "not measured", None)
    return Verdict(
        target,
        f"p99 {ours['p99_ms']:.1f} ms vs Orthanc p50 {theirs['p50_ms']:.1f} ms",
        ours["p99_ms"] < theirs["p50_ms"],
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
    )


def _ceiling(results: dict[str, Any]) -> Verdict:
    target = "cold thumbnails: >= 70% of renderer-alone ceiling x workers (c=32)"
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
    )


JUDGES: list[Callable[[dict[str, Any]], Verdict]] = [
    _ratio("cold thumbnails: >= 3x Orthanc req/s (c=32)", "cold_thumbnails", 3.0),
    _thumb_latency,
    _ratio("cold full-size: >= 1.5x Orthanc", "cold_full", 1.5),
    _ratio("hot (Zipf): >= 15x Orthanc", "hot_zipf", 15.0),
    _ratio("window drag: >= 5x Orthanc", "window_drag", 5.0),
    _no_fetch,
    _ratio("JPEG 2000 thumbnails: >= 5x Orthanc", "j2k_thumbnails", 5.0),
    _ratio("JPEG 2000 full-size: no slower than Orthanc", "j2k_full", 1.0),
    _ceiling,
]


def evaluate(results: dict[str, Any]) -> list[Verdict]:
    return [judge(results) for judge in JUDGES]
