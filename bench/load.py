"""Load loops: closed (N connections, each sends its next request when the last one answers) and
open (requests start on a fixed schedule whether or not earlier ones have answered; latency is
counted from the scheduled start, so a stalled server cannot hide its queue: no coordinated
omission). Both stop at a deadline and at a request count, whichever comes first."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

from bench.client import Connection

# (global index, connection index, that connection's own index) -> request target
Target = Callable[[int, int, int], bytes]

LOWEST_US, HIGHEST_US, DIGITS = 1, 120_000_000, 3
DRAIN = 30.0  # seconds to wait for answers in flight after the deadline


@dataclass(frozen=True, slots=True)
class Load:
    mode: str  # "closed" or "open"
    concurrency: int  # closed: connections; open: most requests in flight before dropping
    duration: float
    max_requests: int
    rate: float = 0.0  # open loop: requests per second
    timeout: float = 30.0  # one request


@dataclass(slots=True)
class Outcome:
    histogram: HdrHistogram = field(
        default_factory=lambda: HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)
    )
    requests: int = 0  # answered with 200
    errors: int = 0  # anything else, including time-outs, resets and (open loop) drops
    statuses: Counter[str] = field(default_factory=Counter)
    body_bytes: int = 0
    elapsed: float = 0.0
    reconnects: int = 0

    def ok(self, latency_ns: int, size: int) -> None:
        self.requests += 1
        self.body_bytes += size
        self.histogram.record_value(max(LOWEST_US, min(HIGHEST_US, latency_ns // 1000)))

    def fail(self, why: str) -> None:
        self.errors += 1
        self.statuses[why] += 1


async def _one(conn: Connection, target: bytes, timeout: float) -> tuple[int, int]:
    async with asyncio.timeout(timeout):
        return await conn.get(target)


async def closed_loop(host: str, port: int, target: Target, load: Load) -> Outcome:
    outcome = Outcome()
    indices = itertools.count()
    start = time.perf_counter()
    deadline = start + load.duration

    async def user(conn_index: int) -> None:
        conn = Connection(host, port)
        try:
            for own in itertools.count():
                i = next(indices)
                if i >= load.max_requests or time.perf_counter() >= deadline:
                    return
                path = target(i, conn_index, own)
                sent = time.perf_counter_ns()
                try:
                    status, size = await _one(conn, path, load.timeout)
                except Exception as exc:
                    conn.close()
                    outcome.fail(type(exc).__name__)
                    await asyncio.sleep(0.01)  # no hot loop against a dead server
                    continue
                if status == 200:
                    outcome.ok(time.perf_counter_ns() - sent, size)
                else:
                    outcome.fail(str(status))
        finally:
            outcome.reconnects += conn.reconnects
            conn.close()

    await asyncio.wait_for(
        asyncio.gather(*(user(c) for c in range(load.concurrency))), load.duration + DRAIN
    )
    outcome.elapsed = time.perf_counter() - start
    return outcome


async def open_loop(host: str, port: int, target: Target, load: Load) -> Outcome:
    outcome = Outcome()
    idle: list[Connection] = []
    tasks: set[asyncio.Task[None]] = set()
    count = min(load.max_requests, max(1, int(load.rate * load.duration)))
    start = time.perf_counter()

    async def one(i: int, scheduled_ns: int) -> None:
        conn = idle.pop() if idle else Connection(host, port)
        try:
            status, size = await _one(conn, target(i, 0, i), load.timeout)
        except Exception as exc:
            conn.close()
            outcome.fail(type(exc).__name__)
            return
        idle.append(conn)
        if status == 200:
            outcome.ok(time.perf_counter_ns() - scheduled_ns, size)
        else:
            outcome.fail(str(status))

    start_ns = time.perf_counter_ns()
    i = 0
    while i < count:
        now_ns = time.perf_counter_ns()
        due = int(start_ns + i * 1e9 / load.rate)
        if due > now_ns:
            await asyncio.sleep((due - now_ns) / 1e9)
            continue
        if len(tasks) >= load.concurrency:
            outcome.fail("dropped")  # the server is this far behind: count it, do not queue
        else:
            task = asyncio.create_task(one(i, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        i += 1
    if tasks:
        await asyncio.wait(tasks, timeout=DRAIN)
    for conn in idle:
        outcome.reconnects += conn.reconnects
        conn.close()
    outcome.elapsed = time.perf_counter() - start
    return outcome
