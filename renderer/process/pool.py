"""A pool of render worker processes driven from asyncio.

Each worker owns a socketpair and serves one job at a time. Unlike ProcessPoolExecutor, a dead
or stuck worker costs only the job it was running: its slot kills it (on a time-out), answers
that job with an error and starts a replacement, while the other slots carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import socket
import time
from dataclasses import dataclass, field

from renderer.errors import (
    PoolClosed,
    PoolOverloaded,
    RenderError,
    RenderTimeout,
    WorkerCrashed,
)
from renderer.params import Answer, RenderParams, RenderResult, RenderSource, ShowsImage
from renderer.process import wire, worker

logger = logging.getLogger(__name__)

# "spawn": forking a process that runs an event loop and threads is unsafe, and spawn behaves
# the same on every Python version (3.14 changed the Linux default).
MP_CONTEXT = multiprocessing.get_context("spawn")
SUPERVISE_EVERY = 0.2  # seconds between checks that every idle worker is still alive
UNREAD_TRIES = 3  # workers a job is sent to that die before reading it, before it fails


@dataclass(slots=True)
class _Job:
    source: RenderSource
    params: RenderParams
    future: asyncio.Future[Answer]


@dataclass(slots=True)
class _Worker:
    process: multiprocessing.process.BaseProcess
    channel: wire.Channel
    started: float = field(default_factory=time.time)  # seconds since the epoch

    def kill(self) -> None:
        """SIGKILL this worker's process: through the process object, which knows its pid (a
        raw `os.kill(pid or 0)` would signal the whole process group when pid is None)."""
        with contextlib.suppress(Exception):
            self.channel.close()
        if self.process.is_alive():
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()


@dataclass(slots=True)
class PoolStats:
    restarts: int = 0
    renders: int = 0
    failures: int = 0
    timeouts: int = 0
    busy: int = 0
    started: float = field(default_factory=time.monotonic)


class RenderPool:
    def __init__(
        self,
        workers: int,
        *,
        max_queue: int = 1000,
        render_timeout: float = 30.0,
        start_timeout: float = 60.0,
        frame_cache_bytes: int = 0,
        numbering: tuple[int, int] | None = None,
    ) -> None:
        self.size = max(1, workers)
        # Each worker's title in ps: "render N/TOTAL", numbered across every router's pool.
        self.first, self.total = numbering or (1, self.size)
        self.render_timeout = render_timeout
        self.start_timeout = start_timeout
        self.frame_cache_bytes = frame_cache_bytes  # per worker (renderer.files.frames)
        self.max_queue = max_queue
        self.stats = PoolStats()
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=max_queue)
        self._workers: list[_Worker | None] = [None] * self.size
        self._slots: list[asyncio.Task[None]] = []
        # Held while a slot uses or replaces its worker, so the supervisor and the slot never
        # replace the same worker twice.
        self._locks = [asyncio.Lock() for _ in range(self.size)]
        self._supervisor: asyncio.Task[None] | None = None
        self._job_ids = itertools.count()
        self._closed = False

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    @property
    def oldest_started(self) -> float:
        """When the oldest worker alive started (seconds since the epoch); 0 with none."""
        return min((w.started for w in self._workers if w is not None), default=0.0)

    @property
    def alive(self) -> int:
        return sum(1 for w in self._workers if w is not None and w.process.is_alive())

    async def start(self) -> None:
        started = await asyncio.gather(*(self._spawn(index) for index in range(self.size)))
        self._workers = list(started)
        self._slots = [
            asyncio.create_task(self._serve(index), name=f"render-slot-{index}")
            for index in range(self.size)
        ]
        self._supervisor = asyncio.create_task(self._supervise(), name="render-supervisor")
        logger.info("render pool started: %d worker%s", self.size, "" if self.size == 1 else "s")

    async def render(self, source: RenderSource, params: RenderParams) -> Answer:
        """The worker's answer: the render, or which image a presentation state shows."""
        if self._closed:
            raise PoolClosed("the server is shutting down")
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait(_Job(source, params, future))
        except asyncio.QueueFull:
            raise PoolOverloaded(
                f"render queue is full ({self.max_queue} waiting, --max-queue)"
            ) from None
        return await future

    async def close(self, grace: float = 10.0) -> None:
        """Stop taking jobs, let queued and running ones finish within `grace` s, stop workers."""
        self._closed = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
        deadline = time.monotonic() + grace
        while (self._queue.qsize() or self.stats.busy) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for task in self._slots:
            task.cancel()
        await asyncio.gather(*self._slots, return_exceptions=True)
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                job.future.set_exception(PoolClosed("the server is shutting down"))
        workers = [w for w in self._workers if w is not None]
        self._workers = [None] * self.size
        for w in workers:
            w.channel.close()  # the worker sees EOF and exits
        await asyncio.gather(*(_retire(w, 2.0) for w in workers))
        logger.info("render pool stopped")

    async def _spawn(self, index: int) -> _Worker:
        ours, theirs = socket.socketpair()
        process = MP_CONTEXT.Process(
            target=worker.main,
            args=(theirs, self.frame_cache_bytes),
            daemon=True,
            name=f"render {self.first + index}/{self.total}",  # the worker's title (worker.main)
        )
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, process.start)
        finally:
            theirs.close()
        _, channel = await loop.create_unix_connection(wire.Channel, sock=ours)
        handle = _Worker(process, channel)
        try:
            ready = await asyncio.wait_for(channel.ready(), self.start_timeout)
        except (TimeoutError, ConnectionError) as exc:
            await _retire(handle, 0.0)
            raise RuntimeError(f"render worker failed to start: {exc!r}") from exc
        if not ready:
            await _retire(handle, 0.0)
            raise RuntimeError("render worker's first message was not that it is ready")
        return handle

    async def _replace(self, index: int) -> None:
        old = self._workers[index]
        self._workers[index] = None
        if old is not None:
            await _retire(old, 0.0)
        self.stats.restarts += 1
        delay = 0.1
        while not self._closed:
            try:
                self._workers[index] = await self._spawn(index)
                return
            except Exception:
                logger.exception("could not start a render worker; retrying in %.1fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _supervise(self) -> None:
        """Replace a worker that died while idle as soon as it is seen, not when the next job
        reaches it, so that `alive` (and /readyz, /metrics) is right with no request sent."""
        healing: set[asyncio.Task[None]] = set()
        try:
            while not self._closed:
                await asyncio.sleep(SUPERVISE_EVERY)
                for index, lock in enumerate(self._locks):
                    w = self._workers[index]
                    if lock.locked() or (w is not None and w.process.is_alive()):
                        continue  # busy (the slot sees its own worker die) or well
                    task = asyncio.create_task(self._heal(index), name=f"render-heal-{index}")
                    healing.add(task)
                    task.add_done_callback(healing.discard)
        finally:
            for task in healing:
                task.cancel()
            await asyncio.gather(*healing, return_exceptions=True)

    async def _heal(self, index: int) -> None:
        async with self._locks[index]:
            w = self._workers[index]
            if w is not None and not w.process.is_alive():
                logger.warning(
                    "render worker %d (pid %s) died while idle, exit code %s; replacing it",
                    index,
                    w.process.pid,
                    w.process.exitcode,
                )
                await self._replace(index)

    async def _serve(self, index: int) -> None:
        while True:
            job = await self._queue.get()
            if job.future.done():  # the client went away while it waited
                continue
            self.stats.busy += 1
            try:
                async with self._locks[index]:
                    await self._run(index, job)
            except asyncio.CancelledError:
                if not job.future.done():
                    job.future.set_exception(PoolClosed("the server is shutting down"))
                raise
            except Exception:  # a bug here must not stop the slot
                logger.exception("render slot %d failed", index)
                if not job.future.done():
                    job.future.set_exception(WorkerCrashed("render failed in the pool (logged)"))
            finally:
                self.stats.busy -= 1

    async def _run(self, index: int, job: _Job) -> None:
        # A worker that died without reading the job (killed while idle, its death not yet
        # seen) costs the job nothing: it goes to the replacement, a few times at most.
        for _ in range(UNREAD_TRIES):
            if await self._try(index, job):
                return
        _fail(job, WorkerCrashed("render workers kept dying before they read the job"))

    async def _try(self, index: int, job: _Job) -> bool:
        """Run the job on the slot's worker; False if the worker died without reading it."""
        w = self._workers[index]
        # Its socket says whether a worker is still there (a dead process's end is closed),
        # with no syscall: Process.is_alive() is a getpid() and a waitpid(), 2.7 us per job.
        # A worker that dies between this check and its reply is a WorkerCrashed, as before.
        if w is None or w.channel.lost:
            logger.warning("render worker %d had died while idle; replacing it", index)
            await self._replace(index)
            w = self._workers[index]
            if w is None:
                raise PoolClosed("the server is shutting down")
        job_id = next(self._job_ids)
        try:
            w.channel.send(wire.encode_job(job_id, job.source, job.params))
            async with asyncio.timeout(self.render_timeout):  # no task per job, as wait_for has
                reply_id, value = await w.channel.receive()
        except TimeoutError:
            self.stats.timeouts += 1
            logger.warning(
                "render %d passed %.1fs; recycling worker %d (pid %s)",
                job_id,
                self.render_timeout,
                index,
                w.process.pid,
            )
            _fail(job, RenderTimeout(f"render took longer than {self.render_timeout:g}s"))
            await self._replace(index)
            return True
        except ConnectionError:
            await _join(w.process, 0.2)
            code = w.process.exitcode
            if w.channel.unread:
                logger.warning(
                    "render worker %d (pid %s) had died while idle, exit code %s; its job goes "
                    "to the replacement",
                    index,
                    w.process.pid,
                    code,
                )
                await self._replace(index)
                return False
            logger.error(
                "render worker %d (pid %s) died during a render, exit code %s",
                index,
                w.process.pid,
                code,
            )
            self.stats.failures += 1
            _fail(job, WorkerCrashed(f"the render worker died (exit code {code})"))
            await self._replace(index)
            return True
        if reply_id != job_id:  # cannot happen with one job in flight per worker
            _fail(job, WorkerCrashed("render worker protocol error"))
            await self._replace(index)
            return True
        self.stats.renders += 1
        if isinstance(value, RenderResult | ShowsImage):
            if not job.future.done():
                job.future.set_result(value)
        else:
            _fail(job, value if isinstance(value, RenderError) else WorkerCrashed(repr(value)))
        return True


def _fail(job: _Job, exc: BaseException) -> None:
    if not job.future.done():
        job.future.set_exception(exc)


async def _retire(w: _Worker, grace: float) -> None:
    """Stop a worker for good: let it exit within `grace` s, else kill it; then close its socket
    and, once it is reaped, the pipes multiprocessing keeps to it (Process.close), so that
    nothing of it is left for the garbage collector to find."""
    await _join(w.process, grace)
    w.kill()
    with contextlib.suppress(Exception):
        await w.channel.wait_closed()
    await _join(w.process, 1.0)  # SIGKILL is prompt, not instant
    if not w.process.is_alive():
        w.process.close()


async def _join(process: multiprocessing.process.BaseProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while process.is_alive() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
