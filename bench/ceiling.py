"""The renderer alone, in this one process, on the files already in memory: no HTTP, no store,
no pool. What one worker could do at best; the server is measured against it times workers."""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import parse_qsl

from multidict import MultiDict

from bench.scenarios import Scenario
from renderer.params import RenderParams
from renderer.pipeline import render
from router import wado_uri
from router.render_request import render_params


@dataclass(frozen=True, slots=True)
class Ceiling:
    renders: int
    cpu_ms: float  # per render
    wall_ms: float

    @property
    def per_core(self) -> float:
        """Renders per CPU-second: the ceiling of one worker on an otherwise idle core."""
        return 1000.0 / self.cpu_ms if self.cpu_ms else 0.0


def params_for(query: str) -> RenderParams:
    """The RenderParams wadofarm's /wado builds for this query (router.views.wado)."""
    parsed = wado_uri.parse(
        MultiDict(parse_qsl("requestType=WADO&objectUID=1.2.3" + query, keep_blank_values=True))
    )
    return render_params(parsed.render, parsed.frame, RenderParams())


def measure(
    scenario: Scenario, sources: list[bytes], seconds: float = 1.0, most: int = 400
) -> Ceiling:
    count = len(sources)
    for i in range(3):  # imports, first-call set-up
        index, query = scenario.pick(i, 0, i, count)
        render(sources[index], params_for(query))
    renders = 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    while renders < most and time.perf_counter() - wall0 < seconds:
        index, query = scenario.pick(renders, 0, renders, count)
        render(sources[index], params_for(query))
        renders += 1
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    return Ceiling(renders, 1000.0 * cpu / renders, 1000.0 * wall / renders)
