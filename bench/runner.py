"""One run of the suite: build the series, measure the renderer alone, start Orthanc and upload,
then for each scenario start wadofarm and drive the same URLs at both servers, point by point,
stopping every process it started."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import uvloop

from bench import ceiling, cpu, procs, series, wrk
from bench.load import Load, Outcome, Target, closed_loop, open_loop
from bench.points import CONNECTIONS
from bench.progress import Progress
from bench.scenarios import Scenario, all_scenarios
from bench.scenarios import routers as several

logger = logging.getLogger(__name__)

# wadofarm's flags per scenario profile: "cold" turns its caches off so every request renders;
# "rewindow" keeps only the frame cache, so every request renders from a cached decode (the rows
# of a scenario repeat its URLs: the render cache would answer the later rows).
PROFILES: dict[str, tuple[str, ...]] = {
    "cold": ("--cache-mb", "0", "--frame-cache-mb", "0"),
    "rewindow": ("--cache-mb", "0"),
    "warm": (),
}
SERVERS = ("wadofarm", "orthanc")
# The router's floors (bench.floor), measured after the routers scenario: the points' scenario
# names and the floor server's flags.
FLOORS: tuple[tuple[str, list[str]], ...] = (("floor_bare", []), ("floor_hop", ["--hop"]))
OPEN_LOOP_IN_FLIGHT = 256
WARMUP_CONNECTIONS = 8


@dataclass(frozen=True, slots=True)
class Options:
    scenarios: tuple[str, ...]
    concurrencies: tuple[int, ...] = (1, 8, 32, 128)
    duration: float = 2.0
    warmup: float = 0.5
    slices: int = 200
    workers: int = 2
    open_loop: bool = True
    rate_scale: float = 1.0
    max_requests: int = 200_000
    ceiling_seconds: float = 1.0
    cache: Path = series.CACHE
    wadofarm_args: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Point:
    scenario: str
    server: str
    mode: str
    concurrency: int
    rate: float
    requests: int
    errors: int
    statuses: dict[str, int]
    elapsed: float
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_bytes: float
    cpu_ms: dict[str, float]  # CPU per answered request, by process and by role
    load1: float
    routers: int = 1  # wadofarm's router processes
    hit_rate: float | None = None  # render-cache hits / lookups during the row (routers_*)
    hit_rate_fresh: float | None = None  # the same from a fresh server, its warm-up included
    load_generator: str = "python"  # bench.load's client, or "wrk" (bench.wrk)


@dataclass(slots=True)
class Results:
    options: dict[str, Any]
    machine: dict[str, Any]
    ceilings: dict[str, dict[str, float]] = field(default_factory=dict)
    points: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def machine_info() -> dict[str, Any]:
    model = "?"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    commit = subprocess.run(
        ["git", "-C", str(procs.REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(memory, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "commit": commit or "?",
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "load_before": cpu.load_average(),
    }


def target_for(s: Scenario, data: series.Series, route: str = several.WADO) -> Target:
    """The request line of each request: /wado (the pick's query follows), or the instance's
    DICOMweb rendered resource (the pick's query is its own)."""
    if route == several.DICOMWEB:
        base = f"/dicom-web/studies/{data.study_uid}/series/{data.series_uid}/instances/"
        targets = [(base + uid + "/rendered").encode() for uid in data.object_uids]
    else:
        prefix = (
            f"/wado?requestType=WADO&studyUID={data.study_uid}&seriesUID={data.series_uid}"
            "&objectUID="
        )
        targets = [(prefix + uid + "&contentType=image/jpeg").encode() for uid in data.object_uids]
    count = len(targets)

    def target(i: int, conn: int, own: int) -> bytes:
        index, query = s.pick(i, conn, own, count)
        return targets[index] + query.encode()

    return target


def by_role(used: dict[str, float]) -> dict[str, float]:
    """Each process's CPU, plus the sums by role: "routers" (every router process), "workers"
    (every render worker), as the report and the projection use them."""
    routers = sum(v for k, v in used.items() if k.startswith("router "))
    workers = sum(v for k, v in used.items() if k.startswith("render "))
    return {"routers": routers, "workers": workers, **used}


def _point(
    s: Scenario,
    server: str,
    load: Load,
    outcome: Outcome,
    cpu_s: dict[str, float],
) -> Point:
    h = outcome.histogram
    done = max(1, outcome.requests)
    return Point(
        scenario=s.name,
        server=server,
        mode=load.mode,
        concurrency=load.concurrency,
        rate=load.rate,
        requests=outcome.requests,
        errors=outcome.errors,
        statuses=dict(outcome.statuses),
        elapsed=round(outcome.elapsed, 3),
        rps=round(outcome.requests / outcome.elapsed, 1) if outcome.elapsed else 0.0,
        p50_ms=h.get_value_at_percentile(50) / 1000,
        p95_ms=h.get_value_at_percentile(95) / 1000,
        p99_ms=h.get_value_at_percentile(99) / 1000,
        max_ms=h.get_max_value() / 1000,
        mean_bytes=round(outcome.body_bytes / done),
        cpu_ms={role: round(1000 * seconds / done, 4) for role, seconds in cpu_s.items()},
        load1=round(cpu.load_average()[0], 2),
    )


def hit_rate(before: tuple[float, float], after: tuple[float, float]) -> float | None:
    """Render-cache hits over lookups between two readings of cache_lookups."""
    hits, misses = after[0] - before[0], after[1] - before[1]
    return round(hits / (hits + misses), 4) if hits + misses > 0 else None


def cache_lookups(url: str) -> tuple[float, float]:
    """The render cache's hits and misses so far, from /metrics (every router's)."""
    status, body = procs.http_request("GET", url + "/metrics")
    if status != 200:
        raise procs.SetupError(f"/metrics answered {status}")
    found = {"wadofarm_cache_hits_total": 0.0, "wadofarm_cache_misses_total": 0.0}
    for line in body.decode().splitlines():
        name, _, value = line.partition(" ")
        if name in found:
            found[name] = float(value)
    return found["wadofarm_cache_hits_total"], found["wadofarm_cache_misses_total"]


class Bench:
    def __init__(self, options: Options, workdir: Path, progress: Progress | None) -> None:
        self.options = options
        self.workdir = workdir
        self.progress = progress
        self.loop = asyncio.Runner(loop_factory=uvloop.new_event_loop)

    def roles(self, wadofarm: procs.Wadofarm, orthanc: procs.Orthanc) -> list[cpu.Role]:
        roles = cpu.server_roles(wadofarm.pid)
        return [*roles, cpu.Role("orthanc", orthanc.pid), cpu.Role("client", os.getpid())]

    def drive(
        self, port: int, target: Target, load: Load, roles: list[cpu.Role]
    ) -> tuple[Outcome, dict[str, float]]:
        meter = cpu.CpuMeter(roles)
        meter.start()
        loop = open_loop if load.mode == "open" else closed_loop
        outcome = self.loop.run(loop("127.0.0.1", port, target, load))
        return outcome, by_role(meter.stop())

    def scenario(
        self,
        s: Scenario,
        data: series.Series,
        wadofarm: procs.Wadofarm,
        orthanc: procs.Orthanc,
        record: Callable[[Point], None],
    ) -> None:
        o = self.options
        target = target_for(s, data)
        ports = {"wadofarm": wadofarm.port, "orthanc": orthanc.port}
        for server in SERVERS:
            warm = Load("closed", WARMUP_CONNECTIONS, o.warmup, o.max_requests)
            self.loop.run(closed_loop("127.0.0.1", ports[server], target, warm))
        loads = [Load("closed", c, o.duration, o.max_requests) for c in o.concurrencies]
        if o.open_loop:
            rate = s.rate * o.rate_scale
            loads.append(Load("open", OPEN_LOOP_IN_FLIGHT, o.duration, o.max_requests, rate))
        for load in loads:
            for server in SERVERS:
                roles = self.roles(wadofarm, orthanc)  # workers may have been replaced
                outcome, used = self.drive(ports[server], target, load, roles)
                point = _point(s, server, load, outcome, used)
                record(point)
                if self.progress is not None:
                    what = f"c={load.concurrency}" if load.mode == "closed" else f"{load.rate:g}/s"
                    self.progress.step(
                        f"{s.name} {server} {what}: {point.rps:.0f} req/s, "
                        f"p99 {point.p99_ms:.1f} ms, {point.errors} errors"
                    )

    def routers(
        self,
        data: series.Series,
        orthanc: procs.Orthanc,
        record: Callable[[Point], None],
    ) -> None:
        """The routers scenario: for hot hits and cold thumbnails, a fresh wadofarm with 1, then
        2 routers and the same render workers, each warmed up and driven at 32 connections."""
        o = self.options
        connections = CONNECTIONS if CONNECTIONS in o.concurrencies else max(o.concurrencies)
        for variant in several.VARIANTS:
            s = dataclasses.replace(
                several.SCENARIO, name=variant.name, profile=variant.profile, pick=variant.pick
            )
            target = target_for(s, data, variant.route)
            for count in variant.routers:
                args = [
                    *("--workers", str(o.workers), "--routers", str(count)),
                    *PROFILES[variant.profile],
                    *o.wadofarm_args,
                ]
                log = self.workdir / f"wadofarm-{variant.name}-{count}.log"
                wadofarm = procs.bench_wadofarm(orthanc.url, args, log)
                try:
                    wadofarm.start()
                    wait_routers(wadofarm, count)
                    fresh = cache_lookups(wadofarm.url)
                    # Hot: the same number of warm-up requests for 1 and 2 routers, however
                    # fast each goes, so the row's hit rates compare the same history.
                    warm = Load("closed", WARMUP_CONNECTIONS, o.warmup, o.max_requests)
                    if variant.profile == "warm":
                        count_bound = WARMUP_PER_SLICE * len(data.object_uids)
                        warm = Load("closed", WARMUP_CONNECTIONS, WARMUP_CAP, count_bound)
                    self.loop.run(closed_loop("127.0.0.1", wadofarm.port, target, warm))
                    time.sleep(MIRRORED)  # every router's cache figures reach /metrics
                    warmed = cache_lookups(wadofarm.url)
                    load = Load("closed", connections, o.duration, o.max_requests)
                    roles = self.roles(wadofarm, orthanc)
                    if wrk.available():
                        point = self.drive_wrk(s, wadofarm.port, target, load, roles)
                    else:
                        outcome, used = self.drive(wadofarm.port, target, load, roles)
                        point = _point(s, "wadofarm", load, outcome, used)
                    time.sleep(MIRRORED)
                    after = cache_lookups(wadofarm.url)
                finally:
                    wadofarm.stop()
                point = dataclasses.replace(
                    point,
                    routers=count,
                    hit_rate=hit_rate(warmed, after),
                    hit_rate_fresh=hit_rate(fresh, after),
                )
                record(point)
                if self.progress is not None:
                    client = point.cpu_ms.get("client", 0) * point.rps / 1000
                    self.progress.step(
                        f"{variant.name} {count} router(s): {point.rps:.0f} req/s, "
                        f"{point.load_generator} {client:.2f} cores"
                    )

    def floors(self, data: series.Series, record: Callable[[Point], None]) -> None:
        """The floors of the router's CPU (bench.floor), at the routers scenario's connections
        and with its hot URLs (the HTTP parser reads the same request lines): a bare aiohttp
        handler answering a cached body, and that plus one worker round trip."""
        if not wrk.available():
            return
        o = self.options
        connections = CONNECTIONS if CONNECTIONS in o.concurrencies else max(o.concurrencies)
        hot = several.VARIANTS[0]
        for name, args in FLOORS:
            s = dataclasses.replace(several.SCENARIO, name=name, pick=hot.pick)
            server = procs.Floor(args, self.workdir / f"{name}.log")
            try:
                server.start()
                roles = cpu.server_roles(server.pid)
                load = Load("closed", connections, o.duration, o.max_requests)
                point = self.drive_wrk(s, server.port, target_for(s, data), load, roles)
            finally:
                server.stop()
            record(dataclasses.replace(point, routers=1))
            if self.progress is not None:
                self.progress.step(f"{name}: {point.rps:.0f} req/s")

    def drive_wrk(
        self, s: Scenario, port: int, target: Target, load: Load, roles: list[cpu.Role]
    ) -> Point:
        """A closed-loop row driven by wrk; the client's CPU is wrk's own."""
        meter = cpu.CpuMeter([role for role in roles if role.name != "client"])
        meter.start()
        w = wrk.drive(port, target, load.concurrency, load.duration)
        used = by_role({**meter.stop(), "client": w.cpu_seconds})
        done = max(1, w.requests)
        return Point(
            scenario=s.name,
            server="wadofarm",
            mode=load.mode,
            concurrency=load.concurrency,
            rate=load.rate,
            requests=w.requests,
            errors=w.errors,
            statuses={},
            elapsed=round(w.elapsed, 3),
            rps=round(w.requests / w.elapsed, 1) if w.elapsed else 0.0,
            p50_ms=w.p50_ms,
            p95_ms=w.p95_ms,
            p99_ms=w.p99_ms,
            max_ms=w.max_ms,
            mean_bytes=round(w.body_bytes / done),
            cpu_ms={role: round(1000 * seconds / done, 4) for role, seconds in used.items()},
            load1=round(cpu.load_average()[0], 2),
            load_generator="wrk",
        )

    def close(self) -> None:
        self.loop.close()


MIRRORED = 1.3  # s: longer than router.metrics.MIRROR_INTERVAL (the bench imports no router)
WARMUP_PER_SLICE = 10  # routers_hot warms up with this many requests per slice of the series
WARMUP_CAP = 60.0  # seconds, at most


def wait_routers(wadofarm: procs.Wadofarm, count: int, timeout: float = 60.0) -> None:
    """Until each of `count` routers listens on the port (a single one already answered)."""
    deadline = time.monotonic() + timeout
    while cpu.listeners(wadofarm.port) < count:
        if time.monotonic() > deadline:
            raise procs.SetupError(f"{count} routers did not all start: {wadofarm.log_tail()}")
        time.sleep(0.05)


def points_in(options: Options) -> int:
    per_scenario = len(options.concurrencies) + (1 if options.open_loop else 0)
    regular = [name for name in options.scenarios if name != several.NAME]
    total = len(regular) * (per_scenario * len(SERVERS) + 1)
    if several.NAME in options.scenarios:
        total += sum(len(variant.routers) for variant in several.VARIANTS)
        total += len(FLOORS) if wrk.available() else 0
    return total


def run(options: Options, *, show_progress: bool = True) -> Results:
    chosen = [s for s in all_scenarios() if s.name in options.scenarios]
    results = Results(
        options={k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()},
        machine=machine_info(),
    )
    progress = Progress(points_in(options)) if show_progress else None
    kinds = sorted({s.kind for s in chosen})
    data = {k: series.build(options.cache, options.slices, k) for k in kinds}
    for kind in kinds:  # the renderer alone, before any server runs
        sources = [path.read_bytes() for path in data[kind].files]
        for s in (s for s in chosen if s.kind == kind and s.name != several.NAME):
            c = ceiling.measure(s, sources, options.ceiling_seconds)
            results.ceilings[s.name] = {
                "renders": c.renders,
                "cpu_ms": round(c.cpu_ms, 3),
                "wall_ms": round(c.wall_ms, 3),
                "per_core": round(c.per_core, 1),
            }
            if progress is not None:
                progress.step(f"{s.name} renderer alone: {c.cpu_ms:.2f} ms CPU per render")
        del sources
    workdir = Path(tempfile.mkdtemp(prefix="wadofarm-bench-"))
    orthanc = procs.Orthanc(workdir / "orthanc")
    bench = Bench(options, workdir, progress)
    try:
        orthanc.start()
        results.machine["orthanc"] = orthanc.version()
        for kind in kinds:
            orthanc.upload_all(list(data[kind].files))
        for profile in PROFILES:
            group = [s for s in chosen if s.profile == profile]
            if not group:
                continue
            args = ["--workers", str(options.workers), *PROFILES[profile], *options.wadofarm_args]
            wadofarm = procs.bench_wadofarm(orthanc.url, args, workdir / f"wadofarm-{profile}.log")
            try:
                wadofarm.start()
                for s in group:
                    bench.scenario(
                        s,
                        data[s.kind],
                        wadofarm,
                        orthanc,
                        lambda p: results.points.append(asdict(p)),
                    )
            finally:
                wadofarm.stop()
        if several.SCENARIO in chosen:
            bench.routers(
                data[several.SCENARIO.kind], orthanc, lambda p: results.points.append(asdict(p))
            )
            bench.floors(data[several.SCENARIO.kind], lambda p: results.points.append(asdict(p)))
    finally:
        bench.close()
        orthanc.stop()
        if progress is not None:
            progress.close()
        results.machine["load_after"] = cpu.load_average()
        logs = sorted(workdir.glob("*.log"))
        if any("Traceback" in p.read_text(errors="replace") for p in logs):
            print(f"wadofarm logged errors; logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return results
