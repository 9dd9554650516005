"""A farm on loopback: three wadofarm nodes (one worker each: this machine has two cores) in
front of the real Orthanc, sharing a real Redis, behind a real nginx with deploy/'s config."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import LoadedOrthanc
from tests.support import corpus
from tests.support.nginx import Nginx
from tests.support.redis_server import RedisServer
from tests.support.server import Wadofarm

NODES = 3
MAX_PIXELS = 512 * 512  # the images the farm tests render: small enough to keep them quick


@dataclass
class Farm:
    nodes: dict[str, Wadofarm]  # by --node-name
    nginx: Nginx
    redis: RedisServer

    @property
    def url(self) -> str:
        return self.nginx.url


@pytest.fixture
def farm(tmp_path: Path, orthanc: LoadedOrthanc) -> Iterator[Farm]:
    redis = RedisServer(tmp_path / "redis").start()
    nodes = {
        f"node-{i}": Wadofarm(
            [
                *("--orthanc", orthanc.url, "--workers", "1", "--node-name", f"node-{i}"),
                *("--redis-url", redis.url, "--no-access-log"),
            ],
            tmp_path / f"node-{i}.log",
        )
        for i in range(1, NODES + 1)
    }
    nginx = Nginx(tmp_path / "nginx", [f"127.0.0.1:{n.port}" for n in nodes.values()])
    farm = Farm(nodes, nginx, redis)  # a test may replace farm.redis: stop whatever runs last
    try:
        with ThreadPoolExecutor(NODES) as starting:
            list(starting.map(Wadofarm.start, nodes.values()))
        nginx.start()
        yield farm
    finally:
        nginx.stop()
        for node in nodes.values():
            node.stop()
        farm.redis.stop()


@pytest.fixture(scope="session")
def farm_images(orthanc: LoadedOrthanc) -> list[corpus.Sample]:
    """Stored, decodable, single-frame corpus images of at most 512x512."""
    chosen = []
    for s in corpus.samples():
        row = s.manifest
        if row is None or not orthanc.stored(s.name) or not corpus.decodable(s.name):
            continue
        if int(row["Rows"]) * int(row["Columns"]) <= MAX_PIXELS and row["NumberOfFrames"] == "1":
            chosen.append(s)
    assert len(chosen) >= 20, "too few small corpus images for the farm tests"
    return chosen
