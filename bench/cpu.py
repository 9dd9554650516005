"""CPU seconds of the processes under test, read from /proc (utime + stime, proc(5))."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far; 0 once it has gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rpartition(")")[2].split()  # the command name may contain spaces
    return (int(fields[11]) + int(fields[12])) / TICKS


def children(pid: int) -> list[int]:
    """Direct children of `pid`, by each process's parent (workers are spawned from executor
    threads, so /proc/PID/task/*/children may miss one a thread has since left)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    """Running, not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def workers(pid: int) -> list[int]:
    """The render workers of a wadofarm process: its spawned multiprocessing children (not
    multiprocessing's resource tracker, also a child)."""
    return [c for c in children(pid) if "spawn_main" in cmdline(c) and alive(c)]


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


@dataclass(frozen=True, slots=True)
class Role:
    name: str  # "router", "worker 1", "orthanc", "client"
    pid: int


class CpuMeter:
    """CPU used by each role between `start()` and `stop()`."""

    def __init__(self, roles: list[Role]) -> None:
        self.roles = roles
        self._before: dict[str, float] = {}

    def start(self) -> None:
        self._before = {role.name: cpu_seconds(role.pid) for role in self.roles}

    def stop(self) -> dict[str, float]:
        return {
            role.name: max(0.0, cpu_seconds(role.pid) - self._before.get(role.name, 0.0))
            for role in self.roles
        }
