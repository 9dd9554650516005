"""A soak of mixed requests with the resident memory of the router and of every worker measured
from /proc: after a warm-up, nothing grows beyond the render cache's configured size.

25 s by default; WADOFARM_SOAK_SECONDS=N soaks longer."""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.reliability.servers import folder_server, wado
from tests.support import procs
from tests.support.http import get

SECONDS = float(os.environ.get("WADOFARM_SOAK_SECONDS", "25"))
MAX_REQUESTS = 1_000_000  # the loop is bounded in time and in count
CACHE_MB = 2
FRAME_CACHE_MB = 16  # each worker's decoded frames
CLIENTS = 4
WEIGHTS = {  # the heavy ones less often, so the mix is fast enough to churn the cache
    "CT_small.dcm": 6,
    "693_UNCI.dcm": 4,
    "MR2_UNCR.dcm": 2,
    "RG3_J2KR.dcm": 1,
    "US1_J2KR.dcm": 3,
    "examples_ybr_color.dcm": 3,
    "emri_small_jpeg_ls_lossless.dcm": 4,
    "MR_truncated.dcm": 1,
}
FILES = tuple(WEIGHTS)
FRAMES = {"examples_ybr_color.dcm": 30, "emri_small_jpeg_ls_lossless.dcm": 10}
MB = 2**20
ROUTER_SLACK = 24 * MB  # allocator arenas, buffers, the access log's strings
WORKER_SLACK = 32 * MB


def mixed(rng: random.Random) -> dict[str, object]:
    """One request of the mix: mostly renders (many distinct, some repeated), some stored files,
    some broken files, bad parameters and unknown UIDs."""
    name = rng.choices(FILES, weights=list(WEIGHTS.values()))[0]
    roll = rng.random()
    if roll < 0.04:
        return {**wado(name), "rows": "-1"}
    if roll < 0.06:
        return {**wado(name), "objectUID": "1.2.3.4.5." + str(rng.randrange(10**6))}
    if roll < 0.10 and name != "RG3_J2KR.dcm":
        return {**wado(name), "contentType": "application/dicom"}
    params: dict[str, object] = {"rows": rng.choice([64, 128, rng.randrange(16, 512)])}
    if rng.random() < 0.3:
        params["windowCenter"], params["windowWidth"] = rng.randrange(-500, 500), 400
    if rng.random() < 0.2:
        params["region"] = "0.1,0.1,0.9,0.6"
    if rng.random() < 0.2:
        params["contentType"] = "image/png"
    if name in FRAMES:
        params["frameNumber"] = rng.randrange(1, FRAMES[name] + 1)
    return wado(name, **params)


def test_memory_stays_bounded_under_a_soak(tmp_path: Path, catalogue: dict[str, Path]) -> None:
    server = folder_server(
        catalogue,
        tmp_path,
        "--workers",
        "2",
        "--cache-mb",
        str(CACHE_MB),
        "--no-access-log",
        names=FILES,
    ).start()
    try:
        workers = procs.wait_workers(server.pid, 2)
        router = procs.router(server.pid)
        statuses: Counter[int] = Counter()
        rendered = [0]  # bytes rendered for a request: what went through the cache
        samples: list[tuple[float, int, list[int]]] = []
        stop = threading.Event()
        started = time.monotonic()

        def sampler() -> None:
            while not stop.wait(0.5):
                samples.append(
                    (
                        time.monotonic() - started,
                        procs.rss_bytes(router),
                        [procs.rss_bytes(w) for w in workers],
                    )
                )

        def client(seed: int) -> None:
            rng = random.Random(seed)
            for _ in range(MAX_REQUESTS):
                if stop.is_set() or time.monotonic() - started > warm_up + SECONDS:
                    return
                reply = get(server.url + "/wado", params=mixed(rng), timeout=60)
                statuses[reply.status] += 1
                if reply.headers.get("x-wadofarm-cache") == "render":
                    rendered[0] += len(reply.body)

        watcher = threading.Thread(target=sampler)
        watcher.start()
        try:
            # Warm-up: every file at full size in every format, twice at once (both workers).
            with ThreadPoolExecutor(2) as pool:
                for name in FILES:
                    for content_type in ("image/jpeg", "image/png"):
                        list(
                            pool.map(
                                lambda side, n=name, c=content_type: get(
                                    server.url + "/wado",
                                    params=wado(n, contentType=c, rows=side, columns=side),
                                ),
                                (16384, 16383),
                            )
                        )
            warm_up = time.monotonic() - started
            clients = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
            for t in clients:
                t.start()
            for t in clients:
                t.join(SECONDS + 120)
        finally:
            stop.set()
            watcher.join()
        assert procs.workers(server.pid) == workers, "a worker died or was replaced"
    finally:
        server.stop()

    total = sum(statuses.values())
    warm = [s for s in samples if s[0] <= warm_up + SECONDS * 0.1]
    late = [s for s in samples if s[0] >= warm_up + SECONDS * 0.6]
    router_base = statistics.median(s[1] for s in warm)
    router_late = max(s[1] for s in late)
    worker_base = [max(s[2][i] for s in warm) for i in range(2)]
    worker_late = [max(s[2][i] for s in late) for i in range(2)]
    print(
        f"soak {SECONDS:.0f}s: {total} requests ({total / SECONDS:.0f}/s) {dict(statuses)}; "
        f"router RSS {router_base / MB:.1f} -> max {router_late / MB:.1f} MiB "
        f"(cache {CACHE_MB} MiB); workers (frame cache {FRAME_CACHE_MB} MiB) "
        + ", ".join(
            f"{a / MB:.0f} -> {b / MB:.0f} MiB"
            for a, b in zip(worker_base, worker_late, strict=True)
        )
        + f"; {rendered[0] / MB:.0f} MiB rendered through the cache"
    )
    trace = os.environ.get("WADOFARM_SOAK_TRACE")
    if trace:  # the RSS series, for a plot or a closer look
        Path(trace).write_text(
            "".join(f"{t:.1f} {r} {' '.join(map(str, w))}\n" for t, r, w in samples)
        )
    assert set(statuses) <= {200, 400, 404, 415}, statuses
    assert statuses[200] > total * 0.7 and total > SECONDS * 5
    assert rendered[0] > 2 * CACHE_MB * MB, "the soak did not fill and churn the cache"
    assert router_late - router_base <= CACHE_MB * MB + ROUTER_SLACK
    for base, late_rss in zip(worker_base, worker_late, strict=True):
        assert late_rss - base <= FRAME_CACHE_MB * MB + WORKER_SLACK
