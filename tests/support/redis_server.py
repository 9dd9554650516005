"""A real redis-server (Debian's package) with deploy/redis/wadofarm-redis.conf, on a free
loopback port, in the foreground, stopped by PID."""

from __future__ import annotations

from pathlib import Path

import redis

from bench import farm
from tests.support.tools import require_program


class RedisServer(farm.RedisServer):
    def __init__(self, workdir: Path, *, maxmemory: str = "64mb", port: int | None = None) -> None:
        binary = require_program("redis-server")
        super().__init__(workdir, maxmemory=maxmemory, port=port, binary=binary)

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)
