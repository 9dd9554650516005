"""Cold full-size: each request renders a 512x512 slice nobody has asked for yet."""

from __future__ import annotations

from bench.scenarios import Scenario, rotating

SCENARIO = Scenario(
    name="cold_full",
    title="cold full-size (512x512, every request a new instance)",
    kind="native",
    profile="cold",
    pick=rotating(""),
    rate=400.0,
)
