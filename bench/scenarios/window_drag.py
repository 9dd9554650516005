"""Window drag: a radiologist drags the mouse over one slice; every request re-renders the same
instance with a new window centre and width. Only the first request of a drag should cost a
fetch and a decode; wadofarm's render cache is off (every request renders), its frame cache
on."""

from __future__ import annotations

from bench.scenarios import Scenario

DRAG = 50  # requests per drag, one instance each


def pick(i: int, conn: int, own: int, count: int) -> tuple[int, str]:
    drag, step = divmod(i, DRAG)
    # No window comes back within a row: each drag moves along its own path, as a mouse does
    # (a window met again would find its lookup table in the worker's cache).
    center = -160 + step * 8 + drag * 0.125
    width = 300 + step * 4
    return (drag * 7) % count, f"&windowCenter={center:g}&windowWidth={width}"


SCENARIO = Scenario(
    name="window_drag",
    title="window drag (512x512, one instance re-windowed 50 times)",
    kind="native",
    profile="rewindow",
    pick=pick,
    rate=400.0,
)
