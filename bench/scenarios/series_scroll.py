"""Series scroll: each connection is a viewer paging through the series in order, from its own
starting slice, full size; the first time any viewer sees these slices."""

from __future__ import annotations

from bench.scenarios import Scenario


def pick(i: int, conn: int, own: int, count: int) -> tuple[int, str]:
    return (conn * 53 + own) % count, ""


SCENARIO = Scenario(
    name="series_scroll",
    title="series scroll (512x512, each viewer pages through in order)",
    kind="native",
    profile="cold",
    pick=pick,
    rate=400.0,
)
