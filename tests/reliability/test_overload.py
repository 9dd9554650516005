"""A burst of renders past --max-queue: the excess is refused at once with 503 + Retry-After,
while cache hits and /healthz keep answering fast."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.reliability.servers import SLOW, SMALL, folder_server, wado
from tests.support.http import Reply, get

BURST = 12
MAX_QUEUE = 2


def full_size(i: int) -> dict[str, object]:
    """A full-size render of the slow image, a different window each: no two coalesce."""
    return wado(SLOW, contentType="image/png", windowCenter=1000 + i, windowWidth=2000)


def timed(url: str, params: dict[str, object] | None = None) -> tuple[Reply, float]:
    started = time.monotonic()
    reply = get(url, params=params, timeout=60)
    return reply, time.monotonic() - started


def test_past_the_queue_is_503_while_hits_and_healthz_stay_fast(
    tmp_path: Path, catalogue: dict[str, Path]
) -> None:
    server = folder_server(
        catalogue, tmp_path, "--workers", "1", "--max-queue", str(MAX_QUEUE)
    ).start()
    try:
        hit = wado(SMALL, rows=64)
        assert get(server.url + "/wado", params=hit).status == 200  # now cached
        with ThreadPoolExecutor(BURST + 2) as pool:
            burst = [pool.submit(timed, server.url + "/wado", full_size(i)) for i in range(BURST)]
            time.sleep(0.1)  # the burst is queued and refused by now
            hits: list[float] = []
            health: list[float] = []
            while not all(f.done() for f in burst) and len(hits) < 200:
                reply, seconds = timed(server.url + "/wado", hit)
                assert reply.status == 200 and reply.headers["x-wadofarm-cache"] == "L1"
                hits.append(seconds)
                reply, seconds = timed(server.url + "/healthz")
                assert reply.status == 200
                health.append(seconds)
            results = [f.result() for f in burst]
        statuses = [r.status for r, _ in results]
        refused = [(r, s) for r, s in results if r.status == 503]
        print(
            f"burst of {BURST}: {statuses.count(200)} rendered, {len(refused)} refused "
            f"(slowest refusal {max(s for _, s in refused) * 1000:.0f} ms); "
            f"during it, {len(hits)} cache hits median {statistics.median(hits) * 1000:.1f} ms "
            f"max {max(hits) * 1000:.1f} ms, /healthz median "
            f"{statistics.median(health) * 1000:.1f} ms max {max(health) * 1000:.1f} ms"
        )
        assert set(statuses) == {200, 503}
        assert statuses.count(200) >= 1 + MAX_QUEUE - 1  # the running one and the queue
        assert len(refused) >= BURST - 1 - MAX_QUEUE - 1  # some may arrive as others finish
        fastest_render = min(s for r, s in results if r.status == 200)
        for reply, seconds in refused:
            assert reply.headers["retry-after"] == "1"
            assert "--max-queue" in reply.text
            assert seconds < min(fastest_render / 2, 1.0)  # at once: no waiting for a render
        assert len(hits) >= 3
        assert statistics.median(hits) < 0.05 and max(hits) < 0.5
        assert statistics.median(health) < 0.05 and max(health) < 0.5
        assert get(server.url + "/wado", params=full_size(99)).status == 200
    finally:
        server.stop()
