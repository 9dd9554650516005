"""`python -m bench chaos`: viewers keep working while the server is knocked about (issue 23).

Mixed viewer load -- thumbnails, scrolling through a series, dragging the window over a slice,
the same few images over and over -- against wadofarm with two routers over a real Orthanc and
a real Redis (`--redis-url`), while a script kills a render worker every few seconds (SIGKILL,
as the OOM killer would), and once each kills a router, restarts Orthanc, restarts Redis
(killed, as a crash would) and sends SIGHUP (a reload).

Every answered image is checked against a reference render of the same URL, made beforehand by
a wadofarm of its own on the same Orthanc (one router, no Redis, nothing killed): the same bytes,
else the same decoded pixels (PNG) or a PSNR of at least 45 dB (JPEG). Every request that got
no answer, or an error status, is a failure, counted by kind and laid at the door of the last
fault before it; a fault's time to full service is from the fault to the end of the last
failure laid at its door. The client retries nothing: a request on a connection its router
dropped is a failure, as it would be for a viewer.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import os
import random
import shutil
import signal
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench import cpu, procs, report, series
from bench.client import LIMIT, read_head
from bench.farm import RedisServer
from bench.runner import machine_info

logger = logging.getLogger(__name__)

START_MARKER = "<!-- chaos: `python -m bench chaos` rewrites this section -->"
END_MARKER = "<!-- /chaos -->"
TIMEOUT = 60.0  # seconds a request may take before it counts as a failure (a time-out)
PSNR_DB = 45.0  # a JPEG as good as the reference's
WINDOWS = tuple(range(-600, 600, 50))  # window centres a drag goes through (width 400)
HORIZON = 20.0  # seconds after a one-off fault in which failures are laid at its door


@dataclass(frozen=True, slots=True)
class ChaosOptions:
    duration: float = 150.0  # seconds of load; the one-off faults at 1/6, 2/6 .. 4/6 of it
    kill_every: float = 5.0  # seconds between render worker kills
    connections: int = 8  # viewers, one keep-alive connection each
    slices: int = 40
    workers: int = 2
    routers: int = 2
    cache_mb: float = 4.0  # small, so that renders go on happening
    redis_mb: int = 8
    seed: int = 23
    cache: Path = series.CACHE


@dataclass(frozen=True, slots=True)
class Fault:
    at: float  # seconds from the start of the load
    kind: str  # worker, router, orthanc, redis, sighup
    detail: str


@dataclass(slots=True)
class Tally:
    """What the viewers saw."""

    requests: int = 0
    answered: int = 0  # a 200 with an image
    checked: int = 0  # of those, compared with the reference
    wrong: list[str] = field(default_factory=list)  # URLs answered with another image
    failures: list[tuple[float, str, str]] = field(default_factory=list)  # (ended, kind, url)
    successes: list[float] = field(default_factory=list)  # when each image was answered
    by_category: Counter[str] = field(default_factory=Counter)


class Targets:
    """The URLs viewers ask for, by what they are doing, and each one's reference answer."""

    def __init__(self, data: series.Series) -> None:
        base = f"/dicom-web/studies/{data.study_uid}/series/{data.series_uid}/instances/"
        wado = (
            f"/wado?requestType=WADO&studyUID={data.study_uid}&seriesUID={data.series_uid}"
            "&objectUID="
        )
        uids = data.object_uids
        self.thumbnails = [f"{base}{uid}/thumbnail".encode() for uid in uids]
        self.scroll = [f"{wado}{uid}&rows=256".encode() for uid in uids]
        self.scroll_png = [f"{wado}{uid}&rows=256&contentType=image/png".encode() for uid in uids]
        self.drags = [
            [f"{wado}{uid}&rows=384&windowCenter={c}&windowWidth=400".encode() for c in WINDOWS]
            for uid in uids
        ]
        self.hot = [f"{wado}{uid}".encode() for uid in uids[:4]] + self.thumbnails[:4]
        self.reference: dict[bytes, tuple[bytes, bytes]] = {}  # url -> (digest, body)

    def every(self) -> list[bytes]:
        drags = [url for drag in self.drags for url in drag]
        return list(
            dict.fromkeys(self.thumbnails + self.scroll + self.scroll_png + drags + self.hot)
        )


class Viewer:
    """One keep-alive connection, no retries: a dropped request is a failure."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def get(self, target: bytes) -> tuple[int, bytes]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(
                "127.0.0.1", self.port, limit=LIMIT
            )  # the bench client's limit on a header block
        reader, writer = self._reader, self._writer
        try:
            writer.write(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            status, length, chunked, close = await read_head(reader)
            if chunked or length < 0:  # wadofarm frames every answer it makes itself
                raise ValueError("an answer without Content-Length")
            body = await reader.readexactly(length)
        except BaseException:
            self.close()
            raise
        if close:  # a draining router: the next request goes on a new connection
            self.close()
        return status, body


async def fetch_references(port: int, targets: Targets) -> None:
    viewer = Viewer(port)
    try:
        for url in targets.every():
            status, body = await asyncio.wait_for(viewer.get(url), TIMEOUT)
            if status != 200:
                raise procs.SetupError(f"the reference server answered {status} for {url!r}")
            targets.reference[url] = (hashlib.blake2b(body).digest(), body)
    finally:
        viewer.close()


def same_image(got: bytes, reference: bytes) -> bool:
    """The same decoded pixels (PNG), or a JPEG within PSNR_DB of the reference's."""
    from PIL import Image

    a = np.asarray(Image.open(io.BytesIO(got)), dtype=np.float64)
    b = np.asarray(Image.open(io.BytesIO(reference)), dtype=np.float64)
    if a.shape != b.shape:
        return False
    if got[:4] == b"\x89PNG":
        return bool(np.array_equal(a, b))
    mse = float(np.mean((a - b) ** 2))
    return mse == 0 or 10 * np.log10(255.0**2 / mse) >= PSNR_DB


def activities(targets: Targets, rng: random.Random) -> Callable[[], list[tuple[str, bytes]]]:
    """What a viewer does next: a few thumbnails, a scroll, a drag, or the hot images."""

    def next_steps() -> list[tuple[str, bytes]]:
        kind = rng.choices(("thumbnails", "scroll", "drag", "hot"), (2, 3, 2, 3))[0]
        if kind == "thumbnails":
            start = rng.randrange(len(targets.thumbnails))
            return [("thumbnails", u) for u in (targets.thumbnails * 2)[start : start + 6]]
        if kind == "scroll":
            pool = targets.scroll_png if rng.random() < 0.3 else targets.scroll
            start = rng.randrange(len(pool))
            step = rng.choice((1, -1))
            return [("scroll", pool[(start + step * i) % len(pool)]) for i in range(10)]
        if kind == "drag":
            drag = rng.choice(targets.drags)
            start = rng.randrange(len(drag) - 8)
            return [("drag", u) for u in drag[start : start + 8]]
        return [("hot", rng.choice(targets.hot)) for _ in range(4)]

    return next_steps


async def load(port: int, targets: Targets, o: ChaosOptions, started: float, tally: Tally) -> None:
    async def viewer(index: int) -> None:
        rng = random.Random(o.seed * 1000 + index)
        steps = activities(targets, rng)
        conn = Viewer(port)
        try:
            while time.monotonic() - started < o.duration:
                for category, url in steps():
                    if time.monotonic() - started >= o.duration:
                        break
                    tally.requests += 1
                    tally.by_category[category] += 1
                    await one(conn, category, url)
        finally:
            conn.close()

    async def one(conn: Viewer, category: str, url: bytes) -> None:
        try:
            status, body = await asyncio.wait_for(conn.get(url), TIMEOUT)
        except TimeoutError:
            conn.close()
            fail("timeout", url)
            return
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            fail("connect" if isinstance(exc, ConnectionRefusedError) else "reset", url)
            return
        if status != 200:
            fail(str(status), url)
            return
        tally.answered += 1
        tally.successes.append(time.monotonic() - started)
        digest, reference = targets.reference[url]
        tally.checked += 1
        if hashlib.blake2b(body).digest() != digest and not same_image(body, reference):
            tally.wrong.append(url.decode())

    def fail(kind: str, url: bytes) -> None:
        tally.failures.append((time.monotonic() - started, kind, url.decode()))

    await asyncio.gather(*(viewer(i) for i in range(o.connections)))


def schedule(o: ChaosOptions) -> list[tuple[float, str]]:
    """A worker kill every kill_every s (half a period off the others), and the one-off faults
    at 1/6 .. 4/6 of the run, each given the time to recover before the next."""
    faults = [(o.duration * (i + 1) / 6, kind) for i, kind in enumerate(ONE_OFF)]
    kills = np.arange(o.kill_every / 2, o.duration - o.kill_every / 2, o.kill_every)
    faults += [(float(t), "worker") for t in kills]
    return sorted(faults)


ONE_OFF = ("router", "orthanc", "redis", "sighup")


class Chaos:
    """The fault script, in a thread of its own (restarting Orthanc blocks for seconds)."""

    def __init__(
        self,
        o: ChaosOptions,
        wadofarm: procs.Wadofarm,
        orthanc: procs.Orthanc,
        redis: RedisServer,
        started: float,
    ) -> None:
        self.o = o
        self.wadofarm = wadofarm
        self.orthanc = orthanc
        self.redis = redis
        self.started = started
        self.rng = random.Random(o.seed)
        self.faults: list[Fault] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        """Each fault on time, in a thread of its own: restarting Orthanc takes seconds, and
        the worker kills go on meanwhile."""
        running = []
        for at, kind in schedule(self.o):
            if self.stop.wait(max(0.0, self.started + at - time.monotonic())):
                break
            thread = threading.Thread(target=self._make, args=(kind,), name=f"chaos-{kind}")
            thread.start()
            running.append(thread)
        for thread in running:
            thread.join(60)

    def _make(self, kind: str) -> None:
        now = time.monotonic() - self.started
        try:
            detail = getattr(self, f"_{kind}")()
        except Exception as exc:  # a fault that could not be made: say so, go on
            detail = f"not made: {exc!r}"
        with self._lock:
            self.faults.append(Fault(round(now, 2), kind, detail))
            self.faults.sort(key=lambda f: f.at)
        logger.info("chaos +%.1f s: %s %s", now, kind, detail)

    def _worker(self) -> str:
        found = cpu.workers(self.wadofarm.pid)
        if not found:
            return "none alive"
        victim = self.rng.choice(found)
        title = cpu.cmdline(victim).strip().removeprefix(cpu.TITLE)
        signal_process(victim, signal.SIGKILL)
        return f"SIGKILL {title}"

    def _router(self) -> str:
        victim = self.rng.choice(cpu.routers(self.wadofarm.pid))
        title = cpu.cmdline(victim).strip().removeprefix(cpu.TITLE)
        signal_process(victim, signal.SIGKILL)
        return f"SIGKILL {title}"

    def _orthanc(self) -> str:
        began = time.monotonic()
        self.orthanc.stop()
        for attempt in range(3):  # Orthanc itself, not wadofarm, may fail to come back at once
            try:
                self.orthanc.start()
                break
            except procs.SetupError:
                if attempt == 2:
                    raise
                logger.warning("Orthanc did not start again; trying once more")
        return f"stopped and started: down {time.monotonic() - began:.1f} s"

    def _redis(self) -> str:
        began = time.monotonic()
        self.redis.kill()
        self.redis.start()
        return f"killed and started: down {time.monotonic() - began:.1f} s"

    def _sighup(self) -> str:
        signal_process(self.wadofarm.pid, signal.SIGHUP)
        return "to the supervisor: a reload"


def signal_process(pid: int, sig: signal.Signals) -> None:
    os.kill(pid, sig)


def blame(faults: list[Fault], t: float) -> Fault | None:
    """The fault a failure at `t` is laid at: the last one-off fault within HORIZON before it,
    else the last worker kill (so a kill just after a restart takes none of its failures)."""
    one_off = [f for f in faults if f.kind != "worker" and f.at <= t < f.at + HORIZON]
    if one_off:
        return one_off[-1]
    kills = [f for f in faults if f.kind == "worker" and f.at <= t]
    return kills[-1] if kills else None


def by_fault(faults: list[Fault], tally: Tally) -> list[dict[str, Any]]:
    """Each fault, the failures laid at its door, its time to full service (to the end of
    the last of them) and whether images were answered after that."""
    blamed: dict[int, list[tuple[float, str, str]]] = {id(f): [] for f in faults}
    for failure in tally.failures:
        fault = blame(faults, failure[0])
        if fault is not None:
            blamed[id(fault)].append(failure)
    rows = []
    for fault in faults:
        mine = blamed[id(fault)]
        last = max((f[0] for f in mine), default=fault.at)
        rows.append(
            {
                **asdict(fault),
                "failures": len(mine),
                "kinds": dict(Counter(kind for _, kind, _ in mine)),
                "full_service_s": round(last - fault.at, 2),
                "answered_after": sum(1 for t in tally.successes if t > last),
            }
        )
    return rows


def run(o: ChaosOptions) -> dict[str, Any]:
    data = series.build(o.cache, o.slices, "native")
    machine = machine_info()
    workdir = Path(tempfile.mkdtemp(prefix="wadofarm-chaos-"))
    targets = Targets(data)
    orthanc = procs.Orthanc(workdir / "orthanc")
    redis = RedisServer(workdir / "redis", maxmemory=f"{o.redis_mb}mb")
    quiet = ["--workers", str(o.workers), "--cache-mb", str(o.cache_mb)]
    reference = procs.bench_wadofarm(
        orthanc.url, ["--workers", "1", "--routers", "1"], workdir / "reference.log"
    )
    wadofarm: procs.Wadofarm | None = None
    chaos: Chaos | None = None
    tally = Tally()
    try:
        orthanc.start()
        orthanc.upload_all(list(data.files))
        reference.start()
        began = time.monotonic()
        asyncio.run(fetch_references(reference.port, targets))
        logger.info(
            "%d reference renders in %.1f s", len(targets.reference), time.monotonic() - began
        )
        reference.stop()
        redis.start()
        args = [*quiet, "--routers", str(o.routers), "--redis-url", redis.url]
        wadofarm = procs.bench_wadofarm(orthanc.url, args, workdir / "wadofarm.log")
        wadofarm.start()
        started = time.monotonic()
        chaos = Chaos(o, wadofarm, orthanc, redis, started)
        script = threading.Thread(target=chaos.run, name="chaos")
        script.start()
        try:
            asyncio.run(load(wadofarm.port, targets, o, started, tally))
        finally:
            chaos.stop.set()
            script.join(60)
        elapsed = time.monotonic() - started
        served = server_counters(wadofarm.url)
        log = wadofarm.log_tail()
    finally:
        if wadofarm is not None:
            wadofarm.stop()
        reference.stop()
        redis.stop()
        orthanc.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    machine["load_after"] = cpu.load_average()
    faults = chaos.faults if chaos is not None else []
    rows = by_fault(faults, tally)
    before_first = [f for f in tally.failures if not faults or f[0] < faults[0].at]
    return {
        "options": {**asdict(o), "cache": str(o.cache)},
        "machine": machine,
        "elapsed_s": round(elapsed, 1),
        "requests": tally.requests,
        "answered": tally.answered,
        "checked": tally.checked,
        "wrong": tally.wrong,
        "failures": len(tally.failures),
        "failure_kinds": dict(Counter(kind for _, kind, _ in tally.failures)),
        "failures_before_any_fault": len(before_first),
        "failures_in_last_10s": sum(1 for f in tally.failures if f[0] > elapsed - 10),
        "by_category": dict(tally.by_category),
        "server": served,
        "references": len(targets.reference),
        "faults": rows,
        "log_tail": log[-3000:],
    }


COUNTERS = (
    "wadofarm_renders",
    "wadofarm_cache_hits",
    "wadofarm_l2_hits",
    "wadofarm_l2_errors",
    "wadofarm_render_worker_restarts",
    "wadofarm_render_crashes",
    "wadofarm_render_retries",
    "wadofarm_quarantined",
)


def server_counters(url: str) -> dict[str, float]:
    """What the server counted (since the reload: a new router starts from zero; the
    supervisor's multiprocess files keep the old routers' counters with several routers)."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        status, body = procs.http_request("GET", url + "/metrics")
    except OSError as exc:
        logger.error("/metrics: %r", exc)
        return {}
    found = {}
    try:
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                name = sample.name.removesuffix("_total")
                if name in COUNTERS and not sample.labels:
                    found[name] = sample.value
    except ValueError as exc:
        logger.error("/metrics answered %d, unreadable (%s): %r", status, exc, body[:2000])
    return found


def markdown(results: dict[str, Any], command: str) -> str:
    o, m = results["options"], results["machine"]
    one_off = [r for r in results["faults"] if r["kind"] != "worker"]
    kills = [r for r in results["faults"] if r["kind"] == "worker"]
    kill_failures = sum(r["failures"] for r in kills)
    worst_kill = max((r["full_service_s"] for r in kills), default=0.0)
    kinds = ", ".join(f"{k}: {v}" for k, v in sorted(results["failure_kinds"].items())) or "none"
    served = results["server"]

    def c(name: str) -> str:
        return f"{served[name]:.0f}" if name in served else "?"

    lines = [
        START_MARKER,
        "",
        "## Chaos: viewers at work while the server is knocked about",
        "",
        f"Made by `{command}` on {m['started']} at commit `{m['commit']}`.",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores; load average before "
        f"{', '.join(f'{x:.2f}' for x in m['load_before'])}, after "
        f"{', '.join(f'{x:.2f}' for x in m['load_after'])}.",
        f"- wadofarm with {o['routers']} routers and {o['workers']} render workers, "
        f"`--cache-mb {o['cache_mb']:g}` (small, so that renders go on), over a real Orthanc and "
        f"Redis (`--redis-url`, {o['redis_mb']} MB); {o['connections']} viewers on keep-alive "
        f"connections for {results['elapsed_s']:.0f} s, each doing in turn one of: 6 "
        f"thumbnails (DICOMweb), a scroll through 10 of {o['slices']} slices (/wado, 256 px, "
        "JPEG or PNG), a drag of the window over a slice (8 windows, 384 px), 4 of the 8 hot "
        "images. The client retries nothing.",
        f"- Faults: a render worker SIGKILLed every {o['kill_every']:g} s ({len(kills)} in "
        "all, at random among both routers' workers); once each: a router SIGKILLed, Orthanc "
        "stopped and started, Redis killed and started, SIGHUP to the supervisor.",
        f"- Every answered image is checked against a reference render of the same URL (a "
        f"wadofarm of its own beforehand, {results['references']} URLs): the same bytes, else "
        f"the same pixels (PNG) or PSNR >= {PSNR_DB:g} dB (JPEG).",
        "",
        f"**{results['requests']} requests: {results['answered']} images, "
        f"{len(results['wrong'])} wrong; {results['failures']} failed ({kinds}); "
        f"{results['failures_before_any_fault']} before the first fault. The {len(kills)} worker "
        f"kills cost {kill_failures} requests (full service within {worst_kill:.1f} s of each).**",
        "",
        f"The server counted {c('wadofarm_renders')} renders, {c('wadofarm_cache_hits')} L1 "
        f"and {c('wadofarm_l2_hits')} Redis hits, {c('wadofarm_render_worker_restarts')} "
        f"worker restarts, {c('wadofarm_render_crashes')} renders whose worker died, "
        f"{c('wadofarm_render_retries')} renders retried on another worker, "
        f"{c('wadofarm_quarantined')} instances quarantined.",
        "",
        "| at s | fault | failed | kinds | full service after s |",
        "|---:|---|---:|---|---:|",
    ]
    for r in one_off:
        kinds_row = ", ".join(f"{k}: {v}" for k, v in sorted(r["kinds"].items())) or "-"
        lines.append(
            f"| {r['at']:.1f} | {r['kind']}: {r['detail']} | {r['failures']} | {kinds_row} "
            f"| {r['full_service_s']:.1f} |"
        )
    lines += [
        "",
        "Failed requests are laid at the door of the last fault before them (a worker kill "
        'included); "full service after" is from the fault to the end of the last of them '
        "(0: none failed). Worker kills, one row each in `bench/results/chaos-latest.json`.",
        "",
        END_MARKER,
    ]
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str) -> None:
    report.write_section(path, text, START_MARKER, END_MARKER)


def save(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "chaos-latest.json").write_text(json.dumps(results, indent=1))
