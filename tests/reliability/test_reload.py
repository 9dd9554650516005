"""SIGHUP, a reload: new routers and render workers, from the code installed and the --env-file
written now, started one router at a time while the old ones drain, with not one request
dropped under load (issue 23)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bench import wrk
from bench.procs import REPO, free_port, wait_ready
from tests.reliability.servers import SMALL, folder_of, folder_server
from tests.support import corpus, procs
from tests.support.http import get
from tests.support.tools import require_program

CONNECTIONS = 32
UID = corpus.sample(SMALL).object_uid


def target(i: int, _: int, __: int) -> bytes:
    """A viewer dragging the window over one image: 300 renders, then cache hits."""
    centre = i % 300
    return (
        f"/wado?requestType=WADO&objectUID={UID}&rows=96&windowCenter={centre}&windowWidth=900"
    ).encode()


def settled(url: str, name: str, value: float) -> dict[str, float]:
    """/metrics once `name` shows `value` (every router's figures are mirrored each second)."""
    deadline = time.monotonic() + 5
    while (samples := scrape(url)).get(name) != value and time.monotonic() < deadline:
        time.sleep(0.2)
    return samples


def scrape(url: str) -> dict[str, float]:
    samples = {}
    for line in get(url + "/metrics").text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.split()[:2]
            samples[name] = float(value)
    return samples


@pytest.mark.parametrize(("routers", "seconds"), [(1, 15.0), (2, 30.0)], ids=["one", "two"])
def test_a_reload_under_load_drops_no_request(
    tmp_path: Path, catalogue: dict[str, Path], routers: int, seconds: float
) -> None:
    require_program("wrk")
    env_file = tmp_path / "wadofarm.env"
    env_file.write_text("# what a reload reads again\nWADOFARM_CACHE_MB=64\n")
    flags = ("--routers", str(routers), "--workers", "2", "--no-access-log")
    server = folder_server(catalogue, tmp_path, *flags, "--env-file", str(env_file)).start()
    try:
        every = f"{'s' if routers > 1 else ''}"
        titles = {"supervisor", "render 1/2", "render 2/2"}
        titles |= {f"router {n}/{routers}" for n in range(1, routers + 1)}
        old = set(procs.wait_titles(server.pid, titles, server.port)) - {server.pid}
        budget = settled(server.url, "wadofarm_cache_max_bytes", 64 * 2**20)
        assert budget["wadofarm_cache_max_bytes"] == 64 * 2**20  # --env-file's, shared
        env_file.write_text("WADOFARM_CACHE_MB=32\n")  # a change of configuration it takes
        with ThreadPoolExecutor(1) as pool:
            load = pool.submit(wrk.drive, server.port, target, CONNECTIONS, seconds)
            time.sleep(3)
            signalled = time.time()
            os.kill(server.pid, signal.SIGHUP)
            reloaded = None
            while not load.done():
                if reloaded is None and not any(procs.alive(pid) for pid in old):
                    reloaded = time.time() - signalled
                time.sleep(0.1)
            outcome = load.result()
        print(
            f"{routers} router{every}: {outcome.requests} requests at c={CONNECTIONS} in "
            f"{outcome.elapsed:.1f} s, {outcome.errors} failed; every old process gone "
            f"{reloaded} s after SIGHUP"
        )
        assert outcome.errors == 0, "a request failed during the reload"
        assert reloaded is not None, "the reload did not finish under load"
        assert outcome.requests > 1000
        new = procs.wait_titles(server.pid, titles, server.port)
        assert not set(new) & old, "a process outlived the reload"
        after = settled(server.url, "wadofarm_cache_max_bytes", 32 * 2**20)
        assert after["wadofarm_router_start_time_seconds"] > signalled
        assert after["wadofarm_render_worker_start_time_seconds"] > signalled
        assert after["wadofarm_cache_max_bytes"] == 32 * 2**20
        log = server.log_tail()
        assert log.count("drained and stopped") == routers
        assert not re.search(r"ERROR|Traceback", log), log
        again = get(server.url + "/wado", params={"requestType": "WADO", "objectUID": UID})
        assert again.status == 200
    finally:
        server.stop()


def test_a_reload_that_cannot_start_keeps_the_old_routers(
    tmp_path: Path, catalogue: dict[str, Path]
) -> None:
    """A bad --env-file at reload time: refused, with the reason in the log, and the routers
    that serve keep serving."""
    env_file = tmp_path / "wadofarm.env"
    env_file.write_text("WADOFARM_CACHE_MB=16\n")
    server = folder_server(catalogue, tmp_path, "--workers", "1", "--env-file", str(env_file))
    server.start()
    try:
        router = procs.router(server.pid)
        env_file.write_text("WADOFARM_CACHE_MB=lots\n")
        os.kill(server.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "reload refused" not in server.log_tail():
            assert time.monotonic() < deadline, server.log_tail()
            time.sleep(0.1)
        assert "WADOFARM_CACHE_MB='lots'" in server.log_tail()
        assert procs.routers(server.pid) == [router]
        assert get(server.url + "/healthz").status == 200
    finally:
        server.stop()


def test_a_reload_runs_the_code_installed_now(tmp_path: Path, catalogue: dict[str, Path]) -> None:
    """An upgrade in place (as a `pip install` of a newer wadofarm would write it): the
    routers a reload starts run the new code, with nothing dropped meanwhile."""
    installed = tmp_path / "installed"
    for package in ("router", "renderer"):
        shutil.copytree(REPO / package, installed / package, ignore=shutil.ignore_patterns("*.pyc"))
    folder = folder_of(catalogue, (SMALL,), tmp_path / "dicom")
    port = free_port()
    log = tmp_path / "w.log"
    command = [sys.executable, "-m", "router", "serve", "--port", str(port), "--workers", "1"]
    url = f"http://127.0.0.1:{port}"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [*command, "--dicom-dir", str(folder)],
            cwd=installed,
            env={**os.environ, "PYTHONPATH": str(installed), "WADOFARM_ROUTERS": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(process, lambda: get(url + "/healthz").status == 200, 60, "wadofarm", log)
        assert get(url + "/healthz").text == "ok\n"
        views = installed / "router" / "views.py"
        views.write_text(views.read_text().replace('text="ok\\n"', 'text="ok, upgraded\\n"'))
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        answers = []
        while (reply := get(url + "/healthz")).text != "ok, upgraded\n":
            answers.append(reply.status)
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.05)
        assert set(answers) <= {200}, "a request failed during the upgrade"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=40) == 0
