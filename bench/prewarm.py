"""First view with and without --prewarm: a new series lands in Orthanc, becomes stable, and a
viewer opens it -- the series thumbnail first, then every instance's thumbnail over six
connections, as a browser does. Measured three ways, each on a fresh Orthanc and wadofarm:
without --prewarm; with it, the viewer arriving once the prewarmer is done; and with it, the
viewer arriving the moment the series is stable (racing the prewarmer: coalescing and its low
priority must keep that no slower than without).
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from bench import cpu, procs, report, series
from bench.client import Connection
from bench.runner import machine_info

logger = logging.getLogger(__name__)

MODES = ("off", "on, viewer after prewarm", "on, viewer at stable")
START_MARKER = "<!-- prewarm: `python -m bench prewarm` rewrites this section -->"
END_MARKER = "<!-- /prewarm -->"
BROWSER_CONNECTIONS = 6  # what a browser opens to one host over HTTP/1.1


@dataclass(frozen=True, slots=True)
class PrewarmOptions:
    slices: int = 40
    workers: int = 2
    repeat: int = 3  # runs per mode; the table shows the median run (by all-thumbnails time)
    stable_timeout: float = 60.0  # seconds for Orthanc to call the series stable
    prewarm_timeout: float = 120.0  # seconds for the prewarmer to finish
    cache: Path = series.CACHE


def _stable_seq(orthanc_url: str, series_uid: str, timeout: float) -> int:
    """The sequence number of the series' StableSeries change, once Orthanc has made it."""
    status, body = procs.http_request("POST", orthanc_url + "/tools/lookup", series_uid.encode())
    found = [i for i in json.loads(body) if i.get("Type") == "Series"] if status == 200 else []
    if not found:
        raise procs.SetupError(f"Orthanc does not know series {series_uid}")
    deadline = time.monotonic() + timeout
    since = 0
    while time.monotonic() < deadline:
        _, body = procs.http_request("GET", f"{orthanc_url}/changes?since={since}&limit=1000")
        page = json.loads(body)
        for change in page["Changes"]:
            if change["ChangeType"] == "StableSeries" and change["ID"] == found[0]["ID"]:
                return int(change["Seq"])
        since = page["Last"]
        if page["Done"]:
            time.sleep(0.05)
    raise procs.SetupError(f"series {series_uid} was not stable after {timeout:g}s")


def _metrics(url: str) -> dict[str, float]:
    _, body = procs.http_request("GET", url + "/metrics")
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
        if not sample.labels
    }


def _wait_prewarmed(url: str, seq: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = _metrics(url)
        if m.get("wadofarm_prewarm_last_seq", 0) >= seq and m.get("wadofarm_prewarm_pending") == 0:
            return
        time.sleep(0.02)
    raise procs.SetupError(f"the prewarmer was not done after {timeout:g}s")


async def _view(port: int, series_target: bytes, instances: list[bytes]) -> dict[str, Any]:
    """The series thumbnail, then the instances' over BROWSER_CONNECTIONS connections."""
    started = time.monotonic()
    first = Connection("127.0.0.1", port)
    status, _ = await first.get(series_target)
    series_ms = (time.monotonic() - started) * 1000
    errors = int(status != 200)
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for target in instances:
        queue.put_nowait(target)
    latencies: list[float] = []

    async def browser_connection(conn: Connection) -> None:
        nonlocal errors
        while not queue.empty():
            target = queue.get_nowait()
            t0 = time.monotonic()
            status, _ = await conn.get(target)
            latencies.append((time.monotonic() - t0) * 1000)
            errors += int(status != 200)
        conn.close()

    connections = [first] + [Connection("127.0.0.1", port) for _ in range(BROWSER_CONNECTIONS - 1)]
    await asyncio.gather(*(browser_connection(c) for c in connections))
    total_ms = (time.monotonic() - started) * 1000
    values = np.array(latencies)
    return {
        "series_ms": series_ms,
        "p50_ms": float(np.percentile(values, 50)),
        "p95_ms": float(np.percentile(values, 95)),
        "max_ms": float(values.max()),
        "all_ms": total_ms,
        "errors": errors,
    }


def run_mode(mode: str, data: series.Series, o: PrewarmOptions, workdir: Path) -> dict[str, Any]:
    folder = workdir / mode.replace(",", "").replace(" ", "-")
    orthanc = procs.Orthanc(folder / "orthanc")
    args = ["--workers", str(o.workers)] + ([] if mode == "off" else ["--prewarm"])
    wadofarm = procs.bench_wadofarm(orthanc.url, args, folder / "wadofarm.log")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        orthanc.start()
        wadofarm.start()
        orthanc.upload_all(list(data.files))
        seq = _stable_seq(orthanc.url, data.series_uid, o.stable_timeout)
        stable = time.monotonic()
        prewarm_s = None
        if mode == "on, viewer after prewarm":
            _wait_prewarmed(wadofarm.url, seq, o.prewarm_timeout)
            prewarm_s = time.monotonic() - stable
        before = _metrics(wadofarm.url)
        base = f"/dicom-web/studies/{data.study_uid}/series/{data.series_uid}"
        instances = [f"{base}/instances/{uid}/thumbnail".encode() for uid in data.object_uids]
        view = asyncio.run(_view(wadofarm.port, f"{base}/thumbnail".encode(), instances))
        after = _metrics(wadofarm.url)
        hits = after["wadofarm_cache_hits_total"] - before["wadofarm_cache_hits_total"]
        return {
            "mode": mode,
            **view,
            "cache_hits": hits,
            "requests": len(instances) + 1,
            "prewarm_s": prewarm_s,
        }
    finally:
        wadofarm.stop()
        orthanc.stop()


def run(o: PrewarmOptions) -> dict[str, Any]:
    data = series.build(o.cache, o.slices, "native")
    machine = machine_info()
    workdir = Path(tempfile.mkdtemp(prefix="wadofarm-prewarm-"))
    try:
        points = []
        for mode in MODES:
            runs = []
            for attempt in range(o.repeat):
                logger.info("first view, prewarm %s (%d/%d)", mode, attempt + 1, o.repeat)
                runs.append(run_mode(mode, data, o, workdir / str(attempt)))
            runs.sort(key=lambda r: r["all_ms"])
            points.append({**runs[len(runs) // 2], "all_ms_runs": [r["all_ms"] for r in runs]})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    machine["load_after"] = cpu.load_average()
    return {"options": {**asdict(o), "cache": str(o.cache)}, "machine": machine, "points": points}


def markdown(results: dict[str, Any], command: str) -> str:
    o, m = results["options"], results["machine"]
    lines = [
        START_MARKER,
        "",
        "## First view with and without --prewarm",
        "",
        f"Made by `{command}` on {m['started']} at commit `{m['commit']}`.",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores; load average before "
        f"{', '.join(f'{x:.2f}' for x in m['load_before'])}, after "
        f"{', '.join(f'{x:.2f}' for x in m['load_after'])}. Fresh Orthanc and wadofarm "
        f"({o['workers']} render workers) per row.",
        f"- A series of {o['slices']} 512x512 CT slices is uploaded to Orthanc; once Orthanc "
        "calls it stable, a viewer asks for the series thumbnail, then for every instance's "
        f"thumbnail over {BROWSER_CONNECTIONS} connections (DICOMweb `/thumbnail`, 128 px).",
        f"- Each row is the median of {o['repeat']} runs by the time to all thumbnails (every "
        "run's time is in the last column); prewarm s: from Orthanc's StableSeries change to "
        "every thumbnail cached.",
        "",
        "| prewarm | series thumbnail ms | instance p50 / p95 / max ms | all thumbnails ms "
        "| cache hits | errors | prewarm s | all thumbnails ms, every run |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for p in results["points"]:
        prewarm = "-" if p["prewarm_s"] is None else f"{p['prewarm_s']:.2f}"
        lines.append(
            f"| {p['mode']} | {p['series_ms']:.1f} "
            f"| {p['p50_ms']:.1f} / {p['p95_ms']:.1f} / {p['max_ms']:.1f} | {p['all_ms']:.0f} "
            f"| {p['cache_hits']:.0f} of {p['requests']} | {p['errors']} | {prewarm} "
            f"| {', '.join(f'{x:.0f}' for x in p['all_ms_runs'])} |"
        )
    lines += ["", END_MARKER]
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str) -> None:
    report.write_section(path, text, START_MARKER, END_MARKER)
