"""The scale scenario: 1, 2 and 3 wadofarm nodes behind nginx (deploy/nginx), with and without
the shared Redis cache (deploy/redis), under a Zipf workload over the renders of one series,
balanced by consistent hashing or round robin. It reports throughput, latency and where the
answers came from (L1, L2 or a render: the cache hit ratio), read from nginx's access log.

It reuses the suite's series, Orthanc and wadofarm processes and closed-loop driver; only the
farm (bench.farm) is its own. On a 2-core machine every node runs one render worker and all the
processes share the two cores: more nodes add cache (and queues), not CPU.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import mean, median
from typing import Any

import numpy as np
import uvloop

from bench import cpu, procs, report, series
from bench.farm import BALANCES, Nginx, RedisServer
from bench.load import Load, Target, closed_loop
from bench.procs import SetupError
from bench.progress import Progress
from bench.runner import machine_info
from bench.scenarios.hot_zipf import EXPONENT

logger = logging.getLogger(__name__)

# What viewers ask of each slice: four window presets (stored, soft tissue, lung, bone), at
# full size and as a 256 px preview: eight renders per slice.
WINDOWS = (
    "",
    "&windowCenter=40&windowWidth=400",
    "&windowCenter=-600&windowWidth=1500",
    "&windowCenter=300&windowWidth=1500",
)
SIZES = ("", "&rows=256&columns=256")
DRAWS = 1 << 17
SPREAD = 7919  # a prime: rank r is render (r * SPREAD) % n, popular renders spread over slices
FLUSH = 1.2  # seconds: nginx writes its access log every second
START_MARKER = "<!-- scale: `python -m bench scale` rewrites this section -->"
END_MARKER = "<!-- /scale -->"


@dataclass(frozen=True, slots=True)
class ScaleOptions:
    nodes: tuple[int, ...] = (1, 2, 3)
    balances: tuple[str, ...] = BALANCES
    l2: tuple[bool, ...] = (True, False)  # with the Redis cache, then without
    concurrency: int = 32
    warmup: float = 5.0
    duration: float = 15.0
    slices: int = 200
    kind: str = "native"
    workers: int = 1  # per node
    cache_mb: float = 8.0  # per node: less than the renders asked for, as on a real farm
    redis_mb: int = 256
    max_requests: int = 200_000
    repeat: int = 1  # rounds of every row, interleaved: the table shows medians
    cache: Path = series.CACHE


def renders(data: series.Series) -> list[bytes]:
    """Every (slice, window, size) as a request target."""
    prefix = (
        f"/wado?requestType=WADO&studyUID={data.study_uid}&seriesUID={data.series_uid}&objectUID="
    )
    return [
        (prefix + uid + window + size).encode()
        for uid in data.object_uids
        for window in WINDOWS
        for size in SIZES
    ]


def zipf_target(targets: list[bytes], offset: int) -> Target:
    """Render popularity follows Zipf's law; `offset` picks another stretch of the same fixed
    draws, so the measured requests are not a replay of the warm-up's."""
    ranks = np.random.default_rng(7).zipf(EXPONENT, DRAWS) - 1
    count = len(targets)
    chosen = [targets[(int(r) % count * SPREAD) % count] for r in ranks]

    def target(i: int, conn: int, own: int) -> bytes:
        return chosen[(i + offset) % DRAWS]

    return target


def run_one(
    o: ScaleOptions,
    orthanc: procs.Orthanc,
    targets: list[bytes],
    workdir: Path,
    loop: asyncio.Runner,
    nodes: int,
    balance: str,
    l2: bool,
) -> dict[str, Any]:
    tag = f"{nodes}-{balance}-{'redis' if l2 else 'l1'}"
    redis = RedisServer(workdir / f"redis-{tag}", maxmemory=f"{o.redis_mb}mb") if l2 else None
    farm: list[procs.Wadofarm] = []
    nginx: Nginx | None = None
    try:
        args = ["--workers", str(o.workers), "--cache-mb", str(o.cache_mb)]
        if redis is not None:
            args += ["--redis-url", redis.start().url]
        farm = [
            procs.bench_wadofarm(
                orthanc.url, [*args, "--node-name", f"node-{n}"], workdir / f"{tag}-node-{n}.log"
            )
            for n in range(1, nodes + 1)
        ]
        with ThreadPoolExecutor(nodes) as starting:
            list(starting.map(procs.Wadofarm.start, farm))
        nginx = Nginx(
            workdir / f"nginx-{tag}", [f"127.0.0.1:{w.port}" for w in farm], balance=balance
        ).start()
        warm = Load("closed", o.concurrency, o.warmup, o.max_requests)
        loop.run(closed_loop("127.0.0.1", nginx.port, zipf_target(targets, DRAWS // 2), warm))
        checkpoint()
        since = nginx.log_size()
        load = Load("closed", o.concurrency, o.duration, o.max_requests)
        outcome = loop.run(closed_loop("127.0.0.1", nginx.port, zipf_target(targets, 0), load))
        time.sleep(FLUSH)
        served = nginx.served(since)
    finally:
        if nginx is not None:
            nginx.stop()
        for node in farm:
            node.stop()
        if redis is not None:
            redis.stop()
    h = outcome.histogram
    answered = sum(served.caches[c] for c in ("L1", "L2", "render")) or 1
    return {
        "nodes": nodes,
        "balance": balance,
        "l2": l2,
        "requests": outcome.requests,
        "errors": outcome.errors,
        "statuses": dict(outcome.statuses),
        "rps": round(outcome.requests / outcome.elapsed, 1) if outcome.elapsed else 0.0,
        "p50_ms": h.get_value_at_percentile(50) / 1000,
        "p99_ms": h.get_value_at_percentile(99) / 1000,
        "max_ms": h.get_max_value() / 1000,
        "caches": {c: round(served.caches[c] / answered, 4) for c in ("L1", "L2", "render")},
        "per_node": dict(sorted(served.nodes.items())),
        "load1": round(cpu.load_average()[0], 2),
    }


def plan(o: ScaleOptions) -> list[tuple[int, str, bool]]:
    """One node is the same under every balancing: it runs once."""
    runs = []
    for l2 in o.l2:
        for nodes in o.nodes:
            for balance in o.balances[:1] if nodes == 1 else o.balances:
                runs.append((nodes, balance, l2))
    return runs


_stopping = threading.Event()


@contextmanager
def interruptible() -> Iterator[None]:
    """Ctrl-C or SIGTERM ends the run at the next step (a load phase at most), through the
    `finally`s that stop every process it started; a second signal ends it at once. (Raising
    from a handler that fires inside the event loop can leave a process behind.)"""

    def stop(signum: int, frame: object) -> None:
        if _stopping.is_set():
            raise KeyboardInterrupt(signal.Signals(signum).name)
        _stopping.set()
        logger.warning("stopping after this step (again to stop at once)")

    _stopping.clear()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def checkpoint() -> None:
    if _stopping.is_set():
        raise KeyboardInterrupt("stopped by a signal")


def run(o: ScaleOptions, *, show_progress: bool = True) -> dict[str, Any]:
    with interruptible():
        return _run(o, show_progress)


def _run(o: ScaleOptions, show_progress: bool) -> dict[str, Any]:
    data = series.build(o.cache, o.slices, o.kind)
    targets = renders(data)
    runs = plan(o) * max(1, o.repeat)  # round after round, so noise spreads over every row
    progress = Progress(len(runs)) if show_progress else None
    results: dict[str, Any] = {
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(o).items()},
        "machine": machine_info(),
        "distinct_renders": len(targets),
        "points": [],
    }
    workdir = Path(tempfile.mkdtemp(prefix="wadofarm-scale-"))
    orthanc = procs.Orthanc(workdir / "orthanc")
    loop = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    try:
        orthanc.start()
        results["machine"]["orthanc"] = orthanc.version()
        orthanc.upload_all(list(data.files))
        for nodes, balance, l2 in runs:
            checkpoint()
            point = run_one(o, orthanc, targets, workdir, loop, nodes, balance, l2)
            if orthanc.process is None or orthanc.process.poll() is not None:
                raise SetupError(f"Orthanc exited during the run: {orthanc.workdir}")
            results["points"].append(point)
            if progress is not None:
                progress.step(
                    f"{nodes} node(s) {balance} {'+Redis' if l2 else 'L1 only'}: "
                    f"{point['rps']:.0f} req/s, p99 {point['p99_ms']:.1f} ms, "
                    f"hits {1 - point['caches']['render']:.0%}, {point['errors']} errors"
                )
    finally:
        loop.close()
        orthanc.stop()
        if progress is not None:
            progress.close()
        results["machine"]["load_after"] = cpu.load_average()
        if any("Traceback" in p.read_text(errors="replace") for p in workdir.glob("*.log")):
            logger.warning("a node logged errors; logs kept in %s", workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return results


def _percent(x: float) -> str:
    return f"{100 * x:.0f}%"


def _row(points: list[dict[str, Any]]) -> str:
    """One table row from the rounds of one configuration: medians, and the range of req/s."""
    first = points[0]
    rps = sorted(p["rps"] for p in points)
    shown = f"{median(rps):.0f}" + (f" ({rps[0]:.0f}–{rps[-1]:.0f})" if len(rps) > 1 else "")
    caches = {c: mean(p["caches"][c] for p in points) for c in ("L1", "L2", "render")}
    totals: Counter[str] = Counter()
    for p in points:
        totals.update({k: v for k, v in p["per_node"].items() if k != "-"})
    answered = sum(totals.values()) or 1
    shares = " / ".join(f"{100 * totals[k] / answered:.0f}" for k in sorted(totals))
    balance = "-" if first["nodes"] == 1 else first["balance"].replace("_", " ")
    return (
        f"| {first['nodes']} | {balance} | {'Redis' if first['l2'] else 'none'} | {shown} "
        f"| {median(p['p50_ms'] for p in points):.1f} / "
        f"{median(p['p99_ms'] for p in points):.1f} / {max(p['max_ms'] for p in points):.0f} "
        f"| {_percent(caches['L1'])} | {_percent(caches['L2'])} "
        f"| {_percent(caches['render'])} | {_percent(1 - caches['render'])} "
        f"| {sum(p['errors'] for p in points)} | {shares} "
        f"| {max(p['load1'] for p in points):.1f} |"
    )


def markdown(results: dict[str, Any], command: str) -> str:
    o, m = results["options"], results["machine"]
    lines = [
        START_MARKER,
        "",
        "## Scale: nodes behind nginx, consistent hashing against round robin",
        "",
        f"Made by `{command}` on {m['started']} at commit `{m['commit']}`.",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores; load average before "
        f"{', '.join(f'{x:.2f}' for x in m['load_before'])}, after "
        f"{', '.join(f'{x:.2f}' for x in m['load_after'])}. **Every process shares these "
        "cores**: Orthanc, Redis, nginx (one worker), the nodes and the load generator. So each "
        f"node runs {o['workers']} render worker(s), and more nodes add cache (and queues), "
        "not CPU: on real machines each node brings its own cores.",
        f"- Workload: Zipf (s = {EXPONENT}) popularity over {results['distinct_renders']} "
        f"distinct renders ({o['slices']} {o['kind']} 512x512 CT slices x {len(WINDOWS)} "
        f"windows x {len(SIZES)} sizes), {o['concurrency']} connections closed loop through "
        f"nginx, {o['warmup']:g} s warm-up then {o['duration']:g} s measured, from fresh nodes "
        f"and an empty Redis each row. Each node's own cache is {o['cache_mb']:g} MiB (smaller "
        f"than the renders asked for); Redis has {o['redis_mb']} MiB, allkeys-lru.",
        "- L1 / L2 / render: where the measured answers came from (nginx's log of "
        "X-Wadofarm-Cache); hits = L1 + L2. Per node: % of the requests each node answered. "
        "Load: the highest 1-minute load average at the end of a row (other work on the "
        f"machine shows there). Every row ran {o['repeat']} time(s), round after round; "
        "req/s, p50 and p99 are medians (req/s with its range), max the highest.",
        "",
        "| nodes | balancing | L2 | req/s | p50 / p99 / max ms | L1 | L2 | render | hits "
        "| errors | per node % | load |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    groups: dict[tuple[int, str, bool], list[dict[str, Any]]] = {}
    for p in results["points"]:
        groups.setdefault((p["nodes"], p["balance"], p["l2"]), []).append(p)
    lines += [_row(points) for points in groups.values()]
    lines += ["", END_MARKER]
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str) -> None:
    report.write_section(path, text, START_MARKER, END_MARKER)
