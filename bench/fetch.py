"""The worker's file fetch, by HTTP client: the CPU one GET of a stored CT slice (~525 KB, from
a fresh Orthanc on loopback) costs the fetching process with renderer.files.http_client and with
the well-kept clients installed here (http.client, urllib3, requests, httpx), each on one
keep-alive connection, side by side in one run (taking turns fetch by fetch), medians of rounds
reported.

    python -m bench fetch [--rounds 20] [--fetches 200] [--cache DIR]

Only the client's CPU is measured (Orthanc's is the same for all); each fetch checks that the
whole file came back.
"""

from __future__ import annotations

import http.client
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import procs, series
from renderer.files import http_client
from renderer.params import HttpSource

Fetch = Callable[[], bytes]
HEADERS = {"Accept-Encoding": "identity"}  # as the worker asks: Orthanc gzips otherwise


def ours(base: str, path: str) -> Fetch:
    source = HttpSource(base, path, "bench")
    return lambda: http_client.fetch(source)


def stdlib(host: str, port: int, path: str) -> Fetch:
    conn = http.client.HTTPConnection(host, port, timeout=10)

    def fetch() -> bytes:
        conn.request("GET", path, headers=HEADERS)
        return conn.getresponse().read()

    return fetch


def urllib3_pool(host: str, port: int, path: str) -> Fetch | None:
    try:
        import urllib3
    except ImportError:
        return None
    pool = urllib3.HTTPConnectionPool(host, port, maxsize=1, timeout=10.0, retries=False)
    return lambda: pool.request("GET", path, headers=HEADERS, decode_content=False).data


def requests_session(base: str, path: str) -> Fetch | None:
    try:
        import requests
    except ImportError:
        return None
    session = requests.Session()
    return lambda: bytes(session.get(base + path, headers=HEADERS, timeout=10).content)


def httpx_client(base: str, path: str) -> Fetch | None:
    try:
        import httpx  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    client: Any = httpx.Client(base_url=base, timeout=10.0)
    return lambda: bytes(client.get(path, headers=HEADERS).content)


def measure(clients: dict[str, Fetch], size: int, rounds: int, fetches: int) -> dict[str, float]:
    """Median CPU microseconds per fetch of each client, over `rounds` rounds of `fetches`
    fetches each. The clients take turns fetch by fetch (their order rotated every round): the
    machine's state is the same for all, and no connection idles long enough for Orthanc to
    close it (after a second)."""
    names = list(clients)
    for fetch in clients.values():  # connect, first-call set-up
        if len(fetch()) != size:
            raise procs.SetupError("a client did not get the whole file")
    per_round: dict[str, list[float]] = {name: [] for name in names}
    clock = time.process_time
    for index in range(rounds):
        order = names[index % len(names) :] + names[: index % len(names)]
        used = dict.fromkeys(order, 0.0)
        for _ in range(fetches):
            for name in order:
                start = clock()
                got = clients[name]()
                used[name] += clock() - start
                if len(got) != size:
                    raise procs.SetupError(f"{name} did not get the whole file")
        for name, seconds in used.items():
            per_round[name].append(1e6 * seconds / fetches)
    return {name: statistics.median(values) for name, values in per_round.items()}


def run(rounds: int, fetches: int, cache: Path) -> str:
    """The table of every installed client's CPU per fetch, as Markdown."""
    data = series.build(cache, 1, "native")
    with tempfile.TemporaryDirectory(prefix="wadofarm-fetch-") as workdir:
        orthanc = procs.Orthanc(Path(workdir) / "orthanc").start()
        try:
            orthanc.upload_all(list(data.files))
            uid = data.object_uids[0].encode()
            status, body = procs.http_request("POST", f"{orthanc.url}/tools/lookup", body=uid)
            if status != 200:
                raise procs.SetupError(f"Orthanc did not find the slice: {status}")
            path = f"/instances/{json.loads(body)[0]['ID']}/file"
            size = data.files[0].stat().st_size
            host, port = "127.0.0.1", orthanc.port
            made = {
                "renderer.files.http_client": ours(orthanc.url, path),
                "http.client": stdlib(host, port, path),
                "urllib3": urllib3_pool(host, port, path),
                "requests": requests_session(orthanc.url, path),
                "httpx": httpx_client(orthanc.url, path),
            }
            clients = {name: fetch for name, fetch in made.items() if fetch is not None}
            cpu = measure(clients, size, rounds, fetches)
        finally:
            orthanc.stop()
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    lines = [
        f"{size} bytes a fetch; {rounds} rounds of {fetches} fetches each; load {load}",
        "",
        "| client | CPU per fetch (us) | vs renderer.files.http_client |",
        "|---|---:|---:|",
    ]
    base = cpu["renderer.files.http_client"]
    lines += [f"| {name} | {us:.0f} | {us / base:.2f}x |" for name, us in cpu.items()]
    missing = [name for name, fetch in made.items() if fetch is None]
    if missing:
        lines += ["", f"not installed: {', '.join(missing)}"]
    return "\n".join(lines)
