"""Several routers: the same server with 1 and with 2 routers on one port (--routers), the same
render workers in total, each started fresh, under hot hits (the Zipf workload, render cache on)
and cold thumbnails (caches off: every request renders). wadofarm only: Orthanc's side of these
is in the other scenarios. The runner measures it (bench.runner.Bench.routers)."""

from __future__ import annotations

from dataclasses import dataclass

from bench.scenarios import THUMBNAIL, Pick, Scenario, hot_zipf, rotating

ROUTERS = (1, 2)
NAME = "routers"


@dataclass(frozen=True, slots=True)
class Variant:
    name: str  # the points' scenario: routers_hot, routers_cold
    profile: str  # bench.runner.PROFILES
    pick: Pick


VARIANTS = (
    Variant(f"{NAME}_hot", "warm", hot_zipf.pick),
    Variant(f"{NAME}_cold", "cold", rotating(THUMBNAIL)),
)

SCENARIO = Scenario(
    name=NAME,
    title="1 vs 2 routers on one port, same render workers (hot hits, cold thumbnails)",
    kind="native",
    profile=NAME,  # not one of the runner's profiles: it starts its own servers
    pick=hot_zipf.pick,
    rate=0.0,
)
