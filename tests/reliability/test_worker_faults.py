"""Render workers killed with SIGKILL mid-render or while idle, and renders that run away: each
costs only the request that touched it, and the pool replaces the worker."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.reliability.servers import SLOW, SMALL, folder_server, wado
from tests.support import procs
from tests.support.http import get
from tests.support.server import Wadofarm


@pytest.fixture
def one_worker(tmp_path: Path, catalogue: dict[str, Path]) -> Iterator[Wadofarm]:
    server = folder_server(catalogue, tmp_path, "--workers", "1").start()
    yield server
    server.stop()


def test_sigkill_mid_render_is_a_5xx_within_a_second(one_worker: Wadofarm) -> None:
    (victim,) = procs.wait_workers(one_worker.pid, 1)
    with ThreadPoolExecutor(1) as pool:
        flight = pool.submit(
            get, one_worker.url + "/wado", params=wado(SLOW, contentType="image/png")
        )
        procs.wait_busy(victim)
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        reply = flight.result(timeout=30)
        answered = time.monotonic() - killed
    print(f"5xx {answered * 1000:.0f} ms after SIGKILL")
    assert reply.status == 502 and "worker died" in reply.text
    assert answered < 1.0
    (replacement,) = procs.wait_replaced(one_worker.pid, [victim], 1)
    for rows in (30, 31, 32):
        assert get(one_worker.url + "/wado", params=wado(SMALL, rows=rows)).status == 200
    again = get(one_worker.url + "/wado", params=wado(SLOW, rows=100))
    assert again.status == 200
    assert procs.workers(one_worker.pid) == [replacement]
    assert "died during a render" in one_worker.log_tail()


def test_a_worker_killed_while_idle_costs_nothing(one_worker: Wadofarm) -> None:
    (victim,) = procs.wait_workers(one_worker.pid, 1)
    os.kill(victim, signal.SIGKILL)
    time.sleep(0.1)
    assert get(one_worker.url + "/wado", params=wado(SMALL, rows=40)).status == 200
    procs.wait_replaced(one_worker.pid, [victim], 1)


def test_a_runaway_render_is_504_and_its_worker_recycled(
    tmp_path: Path, catalogue: dict[str, Path]
) -> None:
    server = folder_server(catalogue, tmp_path, "--workers", "1", "--render-timeout", "0.3")
    server.start()
    try:
        (victim,) = procs.wait_workers(server.pid, 1)
        started = time.monotonic()
        reply = get(server.url + "/wado", params=wado(SLOW, contentType="image/png"))
        elapsed = time.monotonic() - started
        assert reply.status == 504 and "longer than 0.3s" in reply.text
        assert elapsed < 0.3 + 1.5
        procs.wait_replaced(server.pid, [victim], 1)
        assert not procs.alive(victim)
        assert get(server.url + "/wado", params=wado(SMALL, rows=50)).status == 200
        assert "recycling worker" in server.log_tail()
    finally:
        server.stop()


EDGE_FILES = ("MR_small_jp2klossless.dcm", "693_J2KI.dcm", "JPEGBaseline_1s_1f_u_08_08.dcm", SMALL)


def test_the_smallest_outputs_render_at_once(tmp_path: Path, catalogue: dict[str, Path]) -> None:
    """rows=1&columns=1 once sent a reduced-resolution JPEG 2000 decode into an endless halving
    (found by the renderer fuzz): a valid URL must never tie a worker up until the time-out."""
    server = folder_server(
        catalogue, tmp_path, "--workers", "1", "--render-timeout", "5", names=EDGE_FILES
    ).start()
    try:
        for name in EDGE_FILES:
            for box in ({"rows": 1, "columns": 1}, {"rows": 1}, {"columns": 1}, {"rows": 2}):
                started = time.monotonic()
                reply = get(server.url + "/wado", params=wado(name, **box))
                assert reply.status == 200, (name, box, reply.text)
                assert time.monotonic() - started < 2.0, (name, box)
    finally:
        server.stop()
