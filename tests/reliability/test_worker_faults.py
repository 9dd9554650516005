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
    # These tests kill workers by hand: the instance is not at fault, so no quarantine.
    server = folder_server(catalogue, tmp_path, "--workers", "1", "--quarantine-seconds", "0")
    server.start()
    yield server
    server.stop()


def counters(server: Wadofarm) -> dict[str, float]:
    """/metrics' unlabelled samples, counters without their _total."""
    reply = get(server.url + "/metrics")
    assert reply.status == 200
    values = {}
    for line in reply.text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.split()[:2]
            values[name.removesuffix("_total")] = float(value)
    return values


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


def test_a_worker_killed_while_idle_is_replaced_with_no_request(one_worker: Wadofarm) -> None:
    """The pool checks its workers on a timer: /metrics and /readyz follow a death at once."""
    (victim,) = procs.wait_workers(one_worker.pid, 1)
    assert get(one_worker.url + "/readyz").status == 200
    os.kill(victim, signal.SIGKILL)
    killed = time.monotonic()
    while counters(one_worker)["wadofarm_render_worker_restarts"] < 1:
        assert time.monotonic() - killed < 1.0, "the death was not noticed within a second"
        time.sleep(0.02)
    noticed = time.monotonic() - killed
    (replacement,) = procs.wait_replaced(one_worker.pid, [victim], 1)
    replaced = time.monotonic() - killed
    print(f"noticed {noticed * 1000:.0f} ms, replaced {replaced * 1000:.0f} ms after SIGKILL")
    deadline = time.monotonic() + 30
    while (ready := get(one_worker.url + "/readyz")).status != 200:
        assert time.monotonic() < deadline, ready.text
        time.sleep(0.02)
    assert counters(one_worker)["wadofarm_render_workers_alive"] == 1
    assert procs.workers(one_worker.pid) == [replacement]
    assert "died while idle" in one_worker.log.read_text()
    # no render was asked for: nothing but the supervisor could have noticed
    assert counters(one_worker)["wadofarm_renders"] == 0


def test_a_file_that_hangs_a_worker_is_quarantined(
    tmp_path: Path, catalogue: dict[str, Path]
) -> None:
    """Requested 50 times in a row, a file that runs past --render-timeout costs one worker
    restart per quarantine period, and every answer is the 504 with its reason."""
    period = 3.0
    flags = ("--workers", "1", "--render-timeout", "0.3", "--quarantine-seconds", str(period))
    server = folder_server(catalogue, tmp_path, *flags).start()
    try:
        procs.wait_workers(server.pid, 1)
        started = time.monotonic()
        replies = [
            get(server.url + "/wado", params=wado(SLOW, contentType="image/png")) for _ in range(50)
        ]
        elapsed = time.monotonic() - started
        assert all(r.status == 504 and "longer than 0.3s" in r.text for r in replies)
        assert all("quarantined" in r.text for r in replies[1:])
        seen = counters(server)
        periods = 1 + int(elapsed // period)
        print(
            f"50 requests in {elapsed:.2f}s: {seen['wadofarm_render_worker_restarts']:g} restarts"
        )
        assert 1 <= seen["wadofarm_render_worker_restarts"] <= periods
        assert seen["wadofarm_render_timeouts"] <= periods
        assert seen["wadofarm_quarantine_refused"] >= 50 - periods
        assert server.log.read_text().count("quarantined for") == seen["wadofarm_quarantined"]
        # other instances render meanwhile
        assert get(server.url + "/wado", params=wado(SMALL, rows=50)).status == 200
        # once the period is over the file is tried again (and quarantined again)
        time.sleep(max(0.0, started + elapsed + period + 0.1 - time.monotonic()))
        before = counters(server)["wadofarm_render_timeouts"]
        again = get(server.url + "/wado", params=wado(SLOW, contentType="image/png"))
        assert again.status == 504 and "quarantined" not in again.text
        assert counters(server)["wadofarm_render_timeouts"] == before + 1
    finally:
        server.stop()


def test_a_file_that_crashes_a_worker_is_quarantined(
    tmp_path: Path, catalogue: dict[str, Path]
) -> None:
    """A worker that dies rendering an instance (SIGKILL here, as a decoder crash or the OOM
    killer would): the next 49 requests for it are the same 502 at once, with no render."""
    server = folder_server(catalogue, tmp_path, "--workers", "1").start()
    try:
        (victim,) = procs.wait_workers(server.pid, 1)
        with ThreadPoolExecutor(1) as pool:
            flight = pool.submit(get, server.url + "/wado", params=wado(SLOW, rows=300))
            procs.wait_busy(victim)
            os.kill(victim, signal.SIGKILL)
            first = flight.result(timeout=30)
        assert first.status == 502 and "worker died" in first.text
        started = time.monotonic()
        replies = [get(server.url + "/wado", params=wado(SLOW, rows=300)) for _ in range(49)]
        assert all(r.status == 502 and "worker died" in r.text for r in replies)
        assert all("quarantined" in r.text for r in replies)
        assert time.monotonic() - started < 5.0  # answered at once, not rendered
        seen = counters(server)
        assert seen["wadofarm_render_worker_restarts"] == 1
        assert seen["wadofarm_quarantine_refused"] == 49 and seen["wadofarm_quarantined"] == 1
        assert server.log.read_text().count("quarantined for") == 1
    finally:
        server.stop()


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
