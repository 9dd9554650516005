"""Several routers: the same server with 1 and with 2 routers on one port (--routers), the same
render workers in total, each started fresh, under hot hits (the Zipf workload, render cache on)
and cold thumbnails (caches off: every request renders). The same two workloads through the
DICOMweb rendered route, with one router, put its router CPU per request beside /wado's.
wadofarm only: Orthanc's side of these is in the other scenarios. The runner measures it
(bench.runner.Bench.routers)."""

from __future__ import annotations

from dataclasses import dataclass

from bench.scenarios import THUMBNAIL, Pick, Scenario, hot_zipf, rotating

ROUTERS = (1, 2)
NAME = "routers"
WADO, DICOMWEB = "wado", "dicomweb"  # the route asked: /wado, or …/instances/{uid}/rendered


@dataclass(frozen=True, slots=True)
class Variant:
    name: str  # the points' scenario: routers_hot, routers_cold, ..._dicomweb
    profile: str  # bench.runner.PROFILES
    pick: Pick
    route: str = WADO
    routers: tuple[int, ...] = ROUTERS  # the router counts it runs with


VARIANTS = (
    Variant(f"{NAME}_hot", "warm", hot_zipf.pick),
    Variant(f"{NAME}_cold", "cold", rotating(THUMBNAIL)),
    # The same renders asked of DICOMweb: a JPEG of the whole image, a 128x128 thumbnail.
    Variant(f"{NAME}_hot_{DICOMWEB}", "warm", hot_zipf.pick, DICOMWEB, (1,)),
    Variant(f"{NAME}_cold_{DICOMWEB}", "cold", rotating("?viewport=128,128"), DICOMWEB, (1,)),
)

SCENARIO = Scenario(
    name=NAME,
    title="1 vs 2 routers on one port, same render workers (hot hits, cold thumbnails)",
    kind="native",
    profile=NAME,  # not one of the runner's profiles: it starts its own servers
    pick=hot_zipf.pick,
    rate=0.0,
)
