"""Processes as Linux shows them in /proc: a server's render workers, their memory, their fate."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

from bench.cpu import alive, children, cmdline, cpu_seconds, listeners, routers, titled, workers


def wait_workers(pid: int, count: int, timeout: float = 30.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = workers(pid)
        if len(found) == count:
            return found
        time.sleep(0.02)
    raise AssertionError(f"expected {count} render workers under pid {pid}, have {workers(pid)}")


def router(pid: int, timeout: float = 30.0) -> int:
    """The router of a one-router server (its supervisor's pid), once it is there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = routers(pid)
        if len(found) == 1:
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"expected one router under pid {pid}, have {routers(pid)}")


def wait_titles(pid: int, expected: set[str], port: int, timeout: float = 60.0) -> dict[int, str]:
    """Until the processes under `pid` are titled exactly `expected` (as bench.cpu.titled
    reads them) and each router listens on `port`: pid -> title."""
    routers = sum(1 for title in expected if title.startswith("router "))
    deadline = time.monotonic() + timeout
    found: dict[int, str] = {}
    while time.monotonic() < deadline:
        found = titled(pid)
        exact = set(found.values()) == expected and len(found) == len(expected)
        if exact and listeners(port) == routers:
            return found
        time.sleep(0.05)
    raise AssertionError(f"expected {sorted(expected)} under pid {pid}, have {found}")


def rss_bytes(pid: int) -> int:
    """Resident set size (VmRSS), in bytes; 0 once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def wait_busy(pid: int, timeout: float = 10.0) -> None:
    """Until `pid` burns CPU: the render it was given has started."""
    start = cpu_seconds(pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cpu_seconds(pid) - start >= 0.03:
            return
        time.sleep(0.005)
    raise AssertionError(f"process {pid} did not start working within {timeout}s")


def wait_replaced(pid: int, old: list[int], count: int, timeout: float = 30.0) -> list[int]:
    """Until `pid` again has `count` workers, none of them in `old`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = workers(pid)
        if len(found) == count and not set(found) & set(old):
            return found
        time.sleep(0.02)
    raise AssertionError(f"workers {old} of pid {pid} were not replaced: {workers(pid)}")


def freeze(pid: int, timeout: float = 5.0) -> None:
    """SIGSTOP `pid` and wait until every one of its threads shows as stopped: the signal is
    asynchronous, and a thread on another core may still answer a request meanwhile."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = []
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                states.append((task / "stat").read_text().rsplit(")", 1)[1].split()[0])
            except OSError:
                continue
        if states and all(s in "tT" for s in states):
            return
        time.sleep(0.005)
    raise AssertionError(f"process {pid} did not stop within {timeout}s")


@contextlib.contextmanager
def frozen(pid: int) -> Iterator[None]:
    """`pid` stopped (freeze) for the block, and running again after it whatever happens."""
    freeze(pid)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


__all__ = [
    "alive",
    "children",
    "cmdline",
    "cpu_seconds",
    "freeze",
    "frozen",
    "listeners",
    "router",
    "routers",
    "rss_bytes",
    "titled",
    "wait_busy",
    "wait_replaced",
    "wait_titles",
    "wait_workers",
    "workers",
]
