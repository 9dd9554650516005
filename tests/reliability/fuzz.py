"""How much to fuzz: thousands of cases by default (a minute or two in all), more on demand with
WADOFARM_FUZZ_EXAMPLES=N. The default run is derandomised, so CI sees the same cases every time;
an on-demand run explores new ones."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

ON_DEMAND = os.environ.get("WADOFARM_FUZZ_EXAMPLES")


def fuzz_settings(default: int) -> settings:
    """`default` examples (scaled to WADOFARM_FUZZ_EXAMPLES when set), no per-example deadline
    (the renderer's own time-out is the deadline), no example database written to the tree."""
    return settings(
        max_examples=int(ON_DEMAND) if ON_DEMAND else default,
        deadline=None,
        derandomize=not ON_DEMAND,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )
