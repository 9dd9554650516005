"""Hot: many viewers on the same popular studies; instance popularity follows Zipf's law
(s = 1.1), so most requests are for a few slices that were rendered a moment ago."""

from __future__ import annotations

import numpy as np

from bench.scenarios import Scenario

EXPONENT = 1.1
DRAWS = 1 << 16


def _draws() -> np.ndarray:
    # Ranks 0..n-1 by popularity, drawn once with a fixed seed: the same URLs for both servers.
    rng = np.random.default_rng(4)
    return rng.zipf(EXPONENT, DRAWS) - 1


_RANKS = _draws()


def pick(i: int, conn: int, own: int, count: int) -> tuple[int, str]:
    # Ranks past the series wrap; rank r maps to a fixed slice spread over the series.
    rank = int(_RANKS[i % DRAWS]) % count
    return (rank * 37) % count, ""


SCENARIO = Scenario(
    name="hot_zipf",
    title="hot (512x512, Zipf popularity over the series)",
    kind="native",
    profile="warm",
    pick=pick,
    rate=600.0,
)
