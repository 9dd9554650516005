"""What one machine of 2 to 32 cores would serve, projected from a run's CPU per request by role
(routers, render workers, Orthanc's side), next to Orthanc's own /wado projected the same way.

The busiest role decides: each router is one process (at most one core), and every role
together can use at most the machine's cores."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bench.points import find, routers_ms
from router.config import CORES_PER_ROUTER

CORES = (2, 4, 8, 16, 32)
SCENARIOS = {
    "cold_thumbnails": "cold thumbnails",
    "cold_full": "cold full-size",
    "hot_zipf": "hot (render-cache hits)",
}
ASSUMPTIONS = (
    "CPU per request as measured in this run at 32 connections (the rows above), the same "
    "on every machine size: no memory-bandwidth, lock or network limit, and the load generator "
    "on another machine",
    f"wadofarm runs `--routers auto` (one router per {CORES_PER_ROUTER} cores, at least 1) and "
    "`--workers` = cores, next to the Orthanc it reads from, on the same cores; Orthanc's CPU "
    "for wadofarm (look-ups, file reads) is counted",
    "wadofarm's throughput is the smaller of: the routers' (each router one core at most: "
    "routers x 1000 / router ms per request) and the machine's (cores x 1000 / all roles' ms "
    "per request)",
    "Orthanc's /wado: cores x 1000 / its CPU ms per request, i.e. as if its HTTP threads scaled "
    "to every core (optimistic for Orthanc)",
    "`routers for CPU` is how many routers would keep the routers from being the limit; where "
    "the routers limit, a cell also says what that many routers (`--routers N`) would serve",
)


@dataclass(frozen=True, slots=True)
class Projection:
    cores: int
    routers: int
    wadofarm: float  # requests per second
    limit: str  # "routers" or "CPU"
    routers_for_cpu: int
    by_cpu: float  # requests per second with routers_for_cpu routers: the cores decide
    orthanc: float | None

    @property
    def ratio(self) -> float | None:
        return self.wadofarm / self.orthanc if self.orthanc else None


def project(ours: dict[str, Any], theirs: dict[str, Any] | None, cores: int) -> Projection | None:
    """From a wadofarm point and Orthanc's point of the same scenario."""
    cpu = ours["cpu_ms"]
    router = routers_ms(cpu)
    total = router + cpu.get("workers", 0.0) + cpu.get("orthanc", 0.0)
    if router <= 0 or total <= 0:
        return None
    routers = max(1, cores // CORES_PER_ROUTER)
    by_routers = routers * 1000.0 / router
    by_cpu = cores * 1000.0 / total
    orthanc_ms = theirs["cpu_ms"].get("orthanc", 0.0) if theirs else 0.0
    return Projection(
        cores=cores,
        routers=routers,
        wadofarm=min(by_routers, by_cpu),
        limit="routers" if by_routers < by_cpu else "CPU",
        routers_for_cpu=math.ceil(cores * router / total),
        by_cpu=by_cpu,
        orthanc=cores * 1000.0 / orthanc_ms if orthanc_ms else None,
    )


def projections(results: dict[str, Any], scenario: str) -> list[Projection]:
    ours = find(results["points"], scenario, "wadofarm")
    if ours is None:
        return []
    theirs = find(results["points"], scenario, "orthanc")
    found = (project(ours, theirs, cores) for cores in CORES)
    return [p for p in found if p is not None]


def markdown(results: dict[str, Any]) -> list[str]:
    """The projection section of BENCHMARKS.md; nothing if no scenario it needs was run."""
    tables = {name: projections(results, name) for name in SCENARIOS}
    shown = [name for name, rows in tables.items() if rows]
    if not shown:
        return []
    out = [
        "## Projection: one machine of 2 to 32 cores",
        "",
        "Requests per second one machine would serve, from this run's CPU per request by role; "
        "wadofarm / Orthanc's `/wado` (ratio), and what limits wadofarm. Assumptions:",
        "",
        *(f"- {text}." for text in ASSUMPTIONS),
        "",
        "| cores | routers (auto) | "
        + " | ".join(f"{SCENARIOS[name]}: wadofarm / Orthanc (x), limit" for name in shown)
        + " | routers for CPU |",
        "|---:|---:|" + "---:|" * len(shown) + "---|",
    ]
    for index, cores in enumerate(CORES):
        cells, needed = [], []
        for name in shown:
            p = tables[name][index]
            theirs = f"{p.orthanc:,.0f}" if p.orthanc else "?"
            ratio = f" ({p.ratio:.1f}x)" if p.ratio else ""
            more = ""
            if p.limit == "routers" and p.orthanc:
                more = f"; {p.by_cpu:,.0f} ({p.by_cpu / p.orthanc:.1f}x) with {p.routers_for_cpu}"
            cells.append(f"{p.wadofarm:,.0f} / {theirs}{ratio}, {p.limit}{more}")
            needed.append(f"{p.routers_for_cpu} {SCENARIOS[name].split(' (')[0]}")
        first = tables[shown[0]][index]
        out.append(
            f"| {cores} | {first.routers} | " + " | ".join(cells) + f" | {', '.join(needed)} |"
        )
    return out
