"""Each router's share of the server: its render workers, numbered across every router's, and
its part of the render cache."""

from __future__ import annotations

from router.config import Config
from router.place import Place, places


def test_workers_are_shared_out_and_numbered_across_routers() -> None:
    config = Config(workers=5, routers=2, cache_mb=256)
    first, second = places(config, "/tmp/metrics")
    assert (first.index, first.count, first.first_worker, first.total_workers) == (1, 2, 1, 5)
    assert (second.index, second.first_worker) == (2, 4)
    assert [s.config(config).workers for s in (first, second)] == [3, 2]
    assert [s.config(config).cache_mb for s in (first, second)] == [128, 128]
    assert first.title == "wadofarm: router 1/2" and first.shared
    assert first.metrics_dir == "/tmp/metrics"


def test_one_router_is_the_whole_server() -> None:
    config = Config(workers=3, routers=1)
    (only,) = places(config)
    assert only == Place(1, 1, 1, 3, None) and not only.shared
    assert only.config(config).workers == 3 and only.config(config).cache_mb == config.cache_mb
