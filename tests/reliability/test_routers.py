"""Several routers on one port (--routers 2): the kernel spreads connections among them, a dead
or hung router costs only its own requests and is replaced, SIGTERM drains them all, /metrics
adds them up and a render is the same bytes and ETag whichever router answers."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest

from router.cli import build_parser, config_from_args
from router.config import CORES_PER_ROUTER, Config, SettingError
from router.heartbeat import PING_EVERY
from router.metrics import MIRROR_INTERVAL
from router.supervisor import CHECK_INTERVAL
from tests.reliability.servers import SLOW, SMALL, folder_server, wado
from tests.reliability.test_shutdown import accepts
from tests.support import procs
from tests.support.http import get
from tests.support.server import Wadofarm

TWO = {"supervisor", "router 1/2", "router 2/2", "render 1/2", "render 2/2"}
MIRRORED = MIRROR_INTERVAL + 0.5  # every router has copied its cache and pool figures since
CONNECTIONS = 64  # fresh connections tried to reach each router: 2^-63 to miss one by chance


def start_two(catalogue: dict[str, Path], workdir: Path, *flags: str) -> Wadofarm:
    server = folder_server(catalogue, workdir, "--routers", "2", "--workers", "2", *flags)
    server.start()
    procs.wait_titles(server.pid, TWO, server.port)
    return server


@pytest.fixture(scope="module")
def two_routers(
    tmp_path_factory: pytest.TempPathFactory, catalogue: dict[str, Path]
) -> Iterator[Wadofarm]:
    server = start_two(catalogue, tmp_path_factory.mktemp("two-routers"))
    yield server
    server.stop()


class Pinned:
    """A keep-alive connection, and the router that accepted it."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.router = self.get("/healthz")[1]["x-wadofarm-router"]

    def get(self, target: str) -> tuple[int, dict[str, str], bytes]:
        self.conn.request("GET", target)
        reply = self.conn.getresponse()
        body = reply.read()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, body

    def close(self) -> None:
        self.conn.close()


def one_per_router(port: int) -> dict[str, Pinned]:
    """A connection to each of the two routers (new connections until both have answered)."""
    pinned: dict[str, Pinned] = {}
    for _ in range(CONNECTIONS):
        conn = Pinned(port)
        if conn.router in pinned:
            conn.close()
        else:
            pinned[conn.router] = conn
        if len(pinned) == 2:
            return pinned
    raise AssertionError(f"{CONNECTIONS} connections all went to router {set(pinned)}")


def target(name: str, **params: object) -> str:
    return "/wado?" + urlencode(wado(name, **params))


def scrape(server: Wadofarm) -> dict[str, float]:
    samples = {}
    for line in get(server.url + "/metrics").text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def test_both_routers_answer_on_one_port(two_routers: Wadofarm) -> None:
    titles = procs.titled(two_routers.pid)
    assert titles[two_routers.pid] == "supervisor"
    assert procs.listeners(two_routers.port) == 2
    pinned = one_per_router(two_routers.port)
    try:
        assert set(pinned) == {"1", "2"}
        for conn in pinned.values():
            status, headers, body = conn.get(target(SMALL, rows=32))
            assert status == 200 and headers["x-wadofarm-router"] == conn.router
            assert body[:2] == b"\xff\xd8"
    finally:
        for conn in pinned.values():
            conn.close()


def test_a_render_is_the_same_bytes_and_etag_whichever_router_answers(
    two_routers: Wadofarm,
) -> None:
    pinned = one_per_router(two_routers.port)
    url = target(SMALL, rows=48, windowCenter=40, windowWidth=400)
    try:
        seen = {}  # (router, cache) -> (etag, body)
        for _ in range(2):  # each router renders it once, then answers from its cache
            for conn in pinned.values():
                status, headers, body = conn.get(url)
                assert status == 200
                seen[conn.router, headers["x-wadofarm-cache"]] = (headers["etag"], body)
    finally:
        for conn in pinned.values():
            conn.close()
    assert set(seen) == {("1", "render"), ("2", "render"), ("1", "L1"), ("2", "L1")}
    assert len(set(seen.values())) == 1, "the routers disagree on the bytes or the ETag"


def test_metrics_count_the_requests_of_every_router(two_routers: Wadofarm) -> None:
    key = 'wadofarm_http_requests_total{method="GET",route="/wado",status="200"}'
    time.sleep(MIRRORED)  # the earlier tests' cache figures have reached the shared files
    before = scrape(two_routers)
    pinned = one_per_router(two_routers.port)
    per_router = 5
    try:
        for conn in pinned.values():
            for rows in range(per_router):
                assert conn.get(target(SMALL, rows=20 + rows))[0] == 200
    finally:
        for conn in pinned.values():
            conn.close()
    time.sleep(MIRRORED)
    for _ in range(4):  # whichever router answers the scrape, it counts both routers' requests
        after = scrape(two_routers)
        assert after[key] - before.get(key, 0) == 2 * per_router
        count = 'wadofarm_http_request_duration_seconds_count{route="/wado"}'
        every = 'wadofarm_http_request_duration_seconds_bucket{le="+Inf",route="/wado"}'
        assert after[count] - before.get(count, 0) == 2 * per_router
        assert after[every] == after[count]
        hits = after["wadofarm_cache_hits_total"] - before.get("wadofarm_cache_hits_total", 0)
        misses = after["wadofarm_cache_misses_total"] - before.get("wadofarm_cache_misses_total", 0)
        assert hits + misses == 2 * per_router
        assert after["wadofarm_render_workers_alive"] == 2
        assert after["wadofarm_render_workers"] == 2


def test_a_killed_router_loses_only_its_requests_and_is_replaced(
    tmp_path: Path, catalogue: dict[str, Path]
) -> None:
    server = start_two(catalogue, tmp_path)
    try:
        pinned = one_per_router(server.port)
        by_title = {title: pid for pid, title in procs.titled(server.pid).items()}
        victim, survivor = by_title["router 1/2"], by_title["router 2/2"]
        slow = target(SLOW, contentType="image/png", windowCenter=1000, windowWidth=2000)
        with ThreadPoolExecutor(2) as pool:
            flights = {router: pool.submit(conn.get, slow) for router, conn in pinned.items()}
            for title in ("render 1/2", "render 2/2"):
                procs.wait_busy(by_title[title])
            os.kill(victim, signal.SIGKILL)
            deadline = time.monotonic() + 5
            # Until its listening socket is closed: with every thread gone, not only the first
            # (which shows as a zombie while the others still exit).
            while procs.listeners(server.port) > 1 and time.monotonic() < deadline:
                time.sleep(0.005)
            # New connections go to the live router at once: none is lost.
            answers = [get(server.url + "/wado", params=wado(SMALL, rows=24)) for _ in range(10)]
            survived = flights["2"].result(timeout=60)
            with pytest.raises((ConnectionError, http.client.HTTPException)):
                flights["1"].result(timeout=60)
        assert [a.status for a in answers] == [200] * 10
        assert {a.headers["x-wadofarm-router"] for a in answers} == {"2"}
        assert survived[0] == 200 and survived[2].startswith(b"\x89PNG")
        titles = procs.wait_titles(server.pid, TWO, server.port)
        assert victim not in titles and survivor in titles, "not the dead router replaced"
        assert "router 1/2 (pid" in server.log_tail() and "died" in server.log_tail()
        assert {get(server.url + "/healthz").status for _ in range(8)} == {200}
    finally:
        for conn in pinned.values():
            conn.close()
        server.stop()


def test_sigterm_drains_every_router(tmp_path: Path, catalogue: dict[str, Path]) -> None:
    server = start_two(catalogue, tmp_path)
    process = server.process
    assert process is not None
    try:
        every = procs.titled(server.pid)
        renders = [pid for pid, title in every.items() if title.startswith("render ")]
        pinned = one_per_router(server.port)
        slow = target(SLOW, contentType="image/png", windowCenter=1000, windowWidth=2000)
        with ThreadPoolExecutor(2) as pool:
            flights = [pool.submit(conn.get, slow) for conn in pinned.values()]
            for pid in renders:
                procs.wait_busy(pid)
            process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            while accepts(server.port) and time.monotonic() - signalled < 5:
                time.sleep(0.01)
            closed_after = time.monotonic() - signalled
            replies = [f.result(timeout=60) for f in flights]
        code = process.wait(timeout=40)
    finally:
        server.stop()
    assert closed_after < 1.0, "still accepting connections after SIGTERM"
    assert [status for status, _, _ in replies] == [200, 200]
    assert {headers["x-wadofarm-router"] for _, headers, _ in replies} == {"1", "2"}
    assert all(body.startswith(b"\x89PNG") for _, _, body in replies)
    assert code == 0
    assert not [pid for pid in every if procs.alive(pid)], "a process outlived the supervisor"
    assert server.log_tail().count("render pool stopped") == 2


def test_auto_is_one_router_here_under_the_supervisor(
    tmp_path: Path, catalogue: dict[str, Path]
) -> None:
    cores = len(os.sched_getaffinity(0))
    assert Config(workers=64).router_count == max(1, cores // CORES_PER_ROUTER)
    if cores < 2 * CORES_PER_ROUTER:
        assert Config(workers=64).router_count == 1, "auto: one router on this machine"
    assert Config(workers=1).router_count == 1, "auto never asks for more routers than workers"
    assert Config(routers=3, workers=3).router_count == 3
    assert config_from_args(build_parser().parse_args(["serve", "--routers", "auto"])).routers == 0
    four = build_parser().parse_args(["serve", "--workers", "4"])
    assert config_from_args(four, {"WADOFARM_ROUTERS": "3"}) == Config(routers=3, workers=4)
    with pytest.raises(SettingError, match="--routers='3' is not allowed: at most as many routers"):
        config_from_args(build_parser().parse_args(["serve", "--routers", "3", "--workers", "2"]))
    if cores >= 2 * CORES_PER_ROUTER:  # auto is several routers there: the tests above
        return
    server = folder_server(catalogue, tmp_path, "--workers", "2")
    server.env["WADOFARM_ROUTERS"] = ""  # auto, not the suite's one router
    server.start()
    try:
        expected = {"supervisor", "router 1/1", "render 1/2", "render 2/2"}
        titles = procs.wait_titles(server.pid, expected, server.port)
        # the supervisor watches it and reloads it (issue 23), one router or several
        assert titles[server.pid] == "supervisor"
        reply = get(server.url + "/wado", params=wado(SMALL, rows=16))
        assert reply.status == 200 and "x-wadofarm-router" not in reply.headers
    finally:
        server.stop()


# Issue 23's bound: silent for --router-timeout (5 s), seen within a ping and a check more.
HANG_BOUND = 5.0 + PING_EVERY + CHECK_INTERVAL


def test_a_hung_router_is_replaced_while_the_other_answers(
    tmp_path: Path, catalogue: dict[str, Path]
) -> None:
    """SIGSTOP one router (as a stuck event loop would look): the supervisor's pings go
    unanswered, and within HANG_BOUND it is killed and replaced; the other router answers all
    along, and once the new one serves no request fails."""
    server = start_two(catalogue, tmp_path)
    pinned = one_per_router(server.port)
    by_title = {title: pid for pid, title in procs.titled(server.pid).items()}
    victim = by_title["router 1/2"]
    try:
        procs.freeze(victim)
        stopped = time.monotonic()
        answered = 0
        while procs.alive(victim):
            status, headers, _ = pinned["2"].get(target(SMALL, rows=20 + answered % 40))
            assert status == 200 and headers["x-wadofarm-router"] == "2"
            answered += 1
            assert time.monotonic() - stopped < HANG_BOUND + 2.0, "the hung router lives on"
            time.sleep(0.05)
        killed = time.monotonic() - stopped
        titles = procs.wait_titles(server.pid, TWO, server.port)
        serving = time.monotonic() - stopped
        print(f"killed {killed:.2f} s after SIGSTOP, replacement serving at {serving:.2f} s")
        assert killed <= HANG_BOUND + 0.5
        assert victim not in titles and by_title["router 2/2"] in titles
        assert "has not answered the supervisor" in server.log_tail()
        # after the replacement: fresh connections reach both routers, and none fails
        replies = [get(server.url + "/wado", params=wado(SMALL, rows=24)) for _ in range(40)]
        assert [r.status for r in replies] == [200] * 40
        assert {r.headers["x-wadofarm-router"] for r in replies} == {"1", "2"}
        assert answered > 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGCONT)
        for conn in pinned.values():
            conn.close()
        server.stop()
