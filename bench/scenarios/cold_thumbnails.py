"""Cold thumbnails: a study browser filling its grid, 128x128, every request a new instance."""

from __future__ import annotations

from bench.scenarios import THUMBNAIL, Scenario, rotating

SCENARIO = Scenario(
    name="cold_thumbnails",
    title="cold thumbnails (128x128, every request a new instance)",
    kind="native",
    profile="cold",
    pick=rotating(THUMBNAIL),
    rate=400.0,
)
