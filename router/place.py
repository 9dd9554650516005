"""Which router a process is, among the routers serving one port, and its share of the server."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from router.config import Config

TITLE = "wadofarm: "  # every process of a server says what it is after this, in ps and top


@dataclass(frozen=True, slots=True)
class Place:
    index: int  # 1-based
    count: int  # routers on the port
    first_worker: int  # 1-based number of its first render worker among every router's
    total_workers: int
    metrics_dir: str | None = None  # prometheus_client's multiprocess files, with several routers

    @property
    def title(self) -> str:
        return f"{TITLE}router {self.index}/{self.count}"

    @property
    def shared(self) -> bool:
        """Several routers: /metrics adds up their files, the supervisor watches this one."""
        return self.count > 1

    def config(self, config: Config) -> Config:
        """This router's share: its render workers and its part of the render cache."""
        return dataclasses.replace(
            config,
            routers=1,
            workers=share(config.workers, self.count, self.index),
            cache_mb=config.cache_mb / self.count,
        )


def share(total: int, count: int, index: int) -> int:
    """Router `index` (1-based) of `count`'s part of `total`: the first ones take the rest."""
    return total // count + (1 if index <= total % count else 0)


def places(config: Config, metrics_dir: str | None = None) -> list[Place]:
    """One place per router, numbering the render workers 1..workers across them."""
    found, first, count = [], 1, config.router_count
    for index in range(1, count + 1):
        found.append(Place(index, count, first, config.workers, metrics_dir))
        first += share(config.workers, count, index)
    return found
