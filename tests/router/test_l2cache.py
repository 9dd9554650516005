"""The Redis L2 cache against a real redis-server: shared entries, stable keys, and a Redis
that dies, stalls or fills up never failing or stalling a caller."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

from bench.procs import REPO
from renderer.formats import OutputFormat
from renderer.params import RenderParams, VoiFunction, Window, etag_for
from router import l2cache
from router.cache import CachedRender, ImageFacts
from router.l2cache import L2Cache, stable_key
from router.service import render_key
from tests.support.redis_server import RedisServer

TIMEOUT = 0.2
SIZE = ImageFacts(512, 256, 1.0, default_window=False)


def cached(body: bytes) -> CachedRender:
    return CachedRender(body, "image/jpeg", etag_for(body), width=64, height=32)


def key(uid: str = "1.2.3", **params: object) -> object:
    return render_key(uid, RenderParams(**params), SIZE)  # type: ignore[arg-type]


def l2(server: RedisServer, namespace: str = "orthanc") -> L2Cache:
    return L2Cache(server.url, ttl=60, timeout=TIMEOUT, namespace=namespace)


async def settle(cache: L2Cache) -> None:
    """Wait for the background writes."""
    while cache._writes:
        await asyncio.sleep(0.01)


async def test_a_render_stored_by_one_node_is_read_by_another(redis_server) -> None:  # type: ignore[no-untyped-def]
    writer, reader = l2(redis_server), l2(redis_server)
    k = key(window=Window(40.0, 400.0), quality=75)
    body = bytes(range(256)) * 40
    writer.put([k], cached(body), SIZE)
    await settle(writer)
    entry = await reader.get(k)
    assert entry is not None
    assert entry.render == cached(body) and entry.facts == SIZE
    assert await reader.get(key(window=Window(40.0, 401.0), quality=75)) is None
    assert (reader.stats.hits, reader.stats.misses, writer.stats.writes) == (1, 1, 1)
    ttl = redis_server.client().ttl(writer.key(k))
    assert 0 < ttl <= 60
    await writer.close()
    await reader.close()


async def test_settings_outside_the_key_keep_nodes_apart(redis_server) -> None:  # type: ignore[no-untyped-def]
    orthanc_window, minmax_window = l2(redis_server, "orthanc"), l2(redis_server, "minmax")
    orthanc_window.put([key()], cached(b"x" * 100), SIZE)
    await settle(orthanc_window)
    assert await minmax_window.get(key()) is None
    assert await orthanc_window.get(key()) is not None
    await orthanc_window.close()
    await minmax_window.close()


def test_keys_are_the_same_in_every_process() -> None:
    """Python's hash() differs per process; the Redis key must not."""
    k = key(window=Window(-600.5, 1500.0), output=OutputFormat.PNG, quality=90)
    code = (
        "from renderer.formats import OutputFormat;"
        "from renderer.params import RenderParams, Window;"
        "from router.service import render_key; from router.l2cache import stable_key;"
        "from router.cache import ImageFacts;"
        "k = render_key('1.2.3', RenderParams(window=Window(-600.5, 1500.0), "
        "output=OutputFormat.PNG, quality=90), ImageFacts(512, 256, 1.0, False));"
        "print(stable_key(k, 'orthanc').decode())"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert other.stdout.strip() == stable_key(k, "orthanc").decode()
    assert stable_key(k, "orthanc") != stable_key(k, "minmax")
    assert stable_key(k, "orthanc") != stable_key(key(output=OutputFormat.PNG), "orthanc")


async def test_a_dead_redis_costs_one_timeout_then_nothing_until_it_returns(
    redis_server: RedisServer,
) -> None:
    cache = l2(redis_server)
    cache.put([key()], cached(b"before"), SIZE)
    await settle(cache)
    assert await cache.get(key()) is not None and cache.up
    port = redis_server.port
    redis_server.kill()

    started = time.monotonic()
    assert await cache.get(key()) is None
    assert time.monotonic() - started < TIMEOUT + 0.5
    assert cache.stats.errors == 1 and not cache.up
    for _ in range(50):  # the breaker is open: no call, no wait
        assert await cache.get(key()) is None
        cache.put([key()], cached(b"while down"), SIZE)
    assert cache.stats.errors == 1 and cache.stats.skipped == 100

    back = RedisServer(redis_server.workdir, port=port).start()
    try:
        deadline = time.monotonic() + l2cache.BACKOFF_MAX + 5
        while not cache.up and time.monotonic() < deadline:
            await cache.get(key())
            await asyncio.sleep(0.1)
        assert cache.up, "the cache never used Redis again"
        cache.put([key()], cached(b"after"), SIZE)
        await settle(cache)
        entry = await cache.get(key())
        assert entry is not None and entry.render.body == b"after"
    finally:
        await cache.close()
        back.stop()


async def test_a_stalled_redis_times_out_and_recovers(redis_server: RedisServer) -> None:
    """SIGSTOP: the kernel still accepts connections, nothing answers: a slow Redis."""
    cache = l2(redis_server)
    assert await cache.get(key()) is None and cache.up  # connected
    redis_server.signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        assert await cache.get(key()) is None
        cache.put([key()], cached(b"stalled"), SIZE)  # skipped: the breaker is open
        assert time.monotonic() - started < TIMEOUT + 0.5
        assert cache.stats.errors == 1 and not cache.up
    finally:
        redis_server.signal(signal.SIGCONT)
    await asyncio.sleep(l2cache.BACKOFF_FIRST + 0.1)
    cache.put([key()], cached(b"resumed"), SIZE)
    await settle(cache)
    entry = await cache.get(key())
    assert entry is not None and entry.render.body == b"resumed" and cache.up
    await cache.close()


async def test_a_full_redis_evicts_old_renders_instead_of_refusing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """allkeys-lru in deploy/redis: with Redis's default (noeviction) these writes would fail."""
    server = RedisServer(tmp_path / "redis", maxmemory="4mb").start()
    cache = l2(server)
    try:
        assert server.client().config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
        body = b"\x00" * 100_000
        for i in range(100):  # 10 MB through a 4 MB Redis
            cache.put([key(f"1.2.{i}")], cached(body + bytes([i])), SIZE)
            await settle(cache)
        assert cache.stats.errors == 0 and cache.stats.writes == 100
        info = server.client().info()
        assert info["evicted_keys"] > 0
        assert await cache.get(key("1.2.99")) is not None  # the newest is kept
    finally:
        await cache.close()
        server.stop()


def test_the_window_function_is_part_of_the_key() -> None:
    linear = stable_key(key(window=Window(40.0, 400.0)), "orthanc")
    sigmoid = stable_key(key(window=Window(40.0, 400.0, VoiFunction.SIGMOID)), "orthanc")
    assert linear != sigmoid
