"""The viewer-farm workloads, one module each. A scenario says which series it reads, whether
wadofarm runs with its caches on ("warm"), off ("cold": every request fetches and renders) or
with only its frame cache ("rewindow": every request renders from a cached decode), and which
instance and query each request asks for; the runner sends the same URLs to both servers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# (global index, connection index, connection's own index, instances in the series)
#   -> (instance index, the query after objectUID, e.g. "&rows=128&columns=128")
Pick = Callable[[int, int, int, int], tuple[int, str]]

THUMBNAIL = "&rows=128&columns=128"


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    title: str
    kind: str  # the series: "native", "j2k" or "jpeg" (bench.series.KINDS)
    profile: str  # "cold", "rewindow" or "warm" (bench.runner.PROFILES)
    pick: Pick
    rate: float  # open-loop requests per second (a rate Orthanc's /wado can sustain)


def rotating(query: str) -> Pick:
    """Every request a different instance than the ones just before it."""

    def pick(i: int, conn: int, own: int, count: int) -> tuple[int, str]:
        return i % count, query

    return pick


def all_scenarios() -> list[Scenario]:
    from bench.scenarios import (
        cold_full,
        cold_thumbnails,
        compressed,
        hot_zipf,
        routers,
        series_scroll,
        window_drag,
    )

    return [
        cold_thumbnails.SCENARIO,
        cold_full.SCENARIO,
        hot_zipf.SCENARIO,
        window_drag.SCENARIO,
        series_scroll.SCENARIO,
        *compressed.SCENARIOS,
        routers.SCENARIO,
    ]
