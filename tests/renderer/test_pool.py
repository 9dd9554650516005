"""The worker pool with real processes: results, bad input, a killed worker, a stuck one."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from renderer.errors import (
    NotDicom,
    PoolOverloaded,
    RenderTimeout,
    SourceMissing,
    WorkerCrashed,
)
from renderer.params import RenderParams
from renderer.process.pool import RenderPool
from tests.support import corpus


@pytest.fixture
async def pool() -> AsyncIterator[RenderPool]:
    p = RenderPool(2, render_timeout=20.0, max_queue=50)
    await p.start()
    yield p
    await p.close()


def ct_bytes() -> bytes:
    return corpus.sample("693_UNCI.dcm").path.read_bytes()


async def test_renders_from_bytes_and_from_a_path(pool: RenderPool) -> None:
    a = await pool.render(ct_bytes(), RenderParams(rows=64))
    b = await pool.render(str(corpus.sample("693_UNCI.dcm").path), RenderParams(rows=64))
    assert a == b and (a.width, a.height, a.stored_rows) == (64, 64, 512)


async def test_bad_input_is_an_error_not_a_dead_worker(pool: RenderPool) -> None:
    for junk in (b"", b"not dicom at all" * 100, b"\x00" * 132):
        with pytest.raises(NotDicom):
            await pool.render(junk, RenderParams())
    assert pool.stats.restarts == 0 and pool.alive == 2


async def test_a_killed_worker_fails_its_job_and_is_replaced(pool: RenderPool) -> None:
    big = str(corpus.sample("RG1_J2KR.dcm").path)  # ~0.5 s of JPEG 2000 decoding
    jobs = [asyncio.ensure_future(pool.render(big, RenderParams())) for _ in range(2)]
    await asyncio.sleep(0.3)
    victim = pool._workers[0]
    assert victim is not None
    os.kill(victim.process.pid or 0, signal.SIGKILL)
    results = await asyncio.gather(*jobs, return_exceptions=True)
    assert sum(isinstance(r, WorkerCrashed) for r in results) == 1
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    after = await asyncio.gather(
        *(pool.render(ct_bytes(), RenderParams(rows=32)) for _ in range(6))
    )
    assert all(r.width == 32 for r in after)
    # The replacement starts in the background (a spawn takes a while on a loaded machine).
    for _ in range(300):
        if pool.alive == 2:
            break
        await asyncio.sleep(0.1)
    assert pool.stats.restarts == 1 and pool.alive == 2


def _wait_dead(pid: int) -> None:
    """Block (the event loop too, on purpose: it must not see the death first) until `pid`
    has exited and is a zombie."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "Z":
            return
        time.sleep(0.005)
    raise AssertionError(f"process {pid} did not exit")


async def test_a_job_sent_to_a_worker_that_had_died_goes_to_the_replacement(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Killed while idle, its death not yet seen by the event loop: the job it never read
    costs nothing (the socket says so: EPIPE or ECONNRESET, not an end of file)."""
    pool = RenderPool(1, render_timeout=20.0)
    await pool.start()
    try:
        for _ in range(3):
            victim = pool._workers[0]
            assert victim is not None and victim.process.pid is not None
            os.kill(victim.process.pid, signal.SIGKILL)
            _wait_dead(victim.process.pid)
            reply = await pool.render(ct_bytes(), RenderParams(rows=24))
            assert reply.width == 24
        assert pool.stats.failures == 0 and pool.stats.restarts == 3
        assert "died during a render" not in caplog.text
    finally:
        await pool.close()


async def test_a_render_past_the_timeout_recycles_its_worker() -> None:
    pool = RenderPool(1, render_timeout=0.2)
    await pool.start()
    try:
        with pytest.raises(RenderTimeout):
            await pool.render(str(corpus.sample("RG1_J2KR.dcm").path), RenderParams())
        assert (await pool.render(ct_bytes(), RenderParams(rows=16))).width == 16
        assert pool.stats.timeouts == 1 and pool.stats.restarts == 1
    finally:
        await pool.close()


async def test_a_full_queue_refuses_at_once() -> None:
    """One render running, max_queue waiting: every further render is refused when it is asked
    for, long before any render ends."""
    pool = RenderPool(1, max_queue=2)
    await pool.start()
    try:
        big = str(corpus.sample("RG1_J2KR.dcm").path)  # ~0.5 s a render
        started = time.monotonic()
        ended: dict[int, float] = {}
        jobs = [asyncio.ensure_future(pool.render(big, RenderParams())) for _ in range(6)]
        for n, job in enumerate(jobs):
            job.add_done_callback(lambda _, n=n: ended.setdefault(n, time.monotonic() - started))
        results = await asyncio.gather(*jobs, return_exceptions=True)
        refused = [ended[n] for n, r in enumerate(results) if isinstance(r, PoolOverloaded)]
        rendered = [ended[n] for n, r in enumerate(results) if not isinstance(r, BaseException)]
        assert (len(rendered), len(refused)) == (2, 4)  # the queue held two; the slot took one
        assert max(refused) < min(rendered) / 10
    finally:
        await pool.close()


async def test_the_worker_opens_no_symlink_on_the_path(pool: RenderPool, tmp_path: Path) -> None:
    """The router checks a folder file's path before the render; the worker opens it without
    following a symlink anywhere on it, so a parent folder (or the file) swapped for a symlink
    between that check and the render is refused, never read."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    (outside / "sub").mkdir(parents=True)
    inside = root / "sub" / "ct.dcm"
    inside.write_bytes(ct_bytes())
    (outside / "sub" / "ct.dcm").write_bytes(ct_bytes())  # what a swap would expose
    path = os.path.realpath(inside)
    assert (await pool.render(path, RenderParams(rows=16))).width == 16
    os.rename(root / "sub", root / "sub.old")
    (root / "sub").symlink_to(outside / "sub")  # a parent folder swapped
    with pytest.raises(SourceMissing, match="no longer inside the folder"):
        await pool.render(path, RenderParams(rows=17))
    (root / "sub").unlink()
    os.rename(root / "sub.old", root / "sub")
    inside.unlink()
    inside.symlink_to(outside / "sub" / "ct.dcm")  # the file itself swapped
    with pytest.raises(SourceMissing, match="no longer inside the folder"):
        await pool.render(path, RenderParams(rows=18))
    assert pool.stats.restarts == 0


def _open_files() -> set[tuple[str, str]]:
    """This process's open descriptors and what each is (a socket, a pipe, a file)."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            found.add((fd, os.readlink(f"/proc/self/fd/{fd}")))
        except FileNotFoundError:
            continue  # the descriptor listdir itself used
    return found


async def test_workers_stopped_or_replaced_leave_nothing_open(pool: RenderPool) -> None:
    """A worker that goes, replaced or at close, takes its socket, its pipes and its process
    with it: nothing is left for the garbage collector to find."""
    before = _open_files()
    other = RenderPool(2)
    await other.start()
    pids = [w.process.pid for w in other._workers if w is not None]
    os.kill(pids[0] or 0, signal.SIGKILL)
    for _ in range(300):
        if other.stats.restarts == 1 and other.alive == 2:
            break
        await asyncio.sleep(0.1)
    assert (await other.render(ct_bytes(), RenderParams(rows=8))).width == 8
    pids += [w.process.pid for w in other._workers if w is not None and w.process.pid not in pids]
    assert len(pids) == 3
    await other.close()
    assert _open_files() - before == set()
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]  # reaped, not zombies
