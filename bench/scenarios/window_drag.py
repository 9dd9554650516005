"""Window drag: a radiologist drags the mouse over one slice; every request re-renders the same
instance with a new window centre and width. Only the first request of a drag should cost a
fetch and a decode."""

from __future__ import annotations

from bench.scenarios import Scenario

DRAG = 50  # requests per drag, one instance each


def pick(i: int, conn: int, own: int, count: int) -> tuple[int, str]:
    drag, step = divmod(i, DRAG)
    # The same windows never come back within a run, so no request is a render-cache hit.
    center = -160 + step * 8 + (drag // count) * 0.5
    width = 300 + step * 4
    return (drag * 7) % count, f"&windowCenter={center:g}&windowWidth={width}"


SCENARIO = Scenario(
    name="window_drag",
    title="window drag (512x512, one instance re-windowed 50 times)",
    kind="native",
    profile="warm",
    pick=pick,
    rate=400.0,
)
