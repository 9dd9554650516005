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


TITLE = "wadofarm: "  # router.place.TITLE: how every wadofarm process names itself


def parents() -> dict[int, int]:
    """Every process's parent, by each process's stat (workers are spawned from executor
    threads, so /proc/PID/task/*/children may miss one a thread has since left)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        found[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    return found


def children(pid: int) -> list[int]:
    """Direct children of `pid`."""
    return sorted(child for child, parent in parents().items() if parent == pid)


def descendants(pid: int) -> list[int]:
    """Children of `pid`, theirs, and so on."""
    by_parent: dict[int, list[int]] = {}
    for child, parent in parents().items():
        by_parent.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in by_parent.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return sorted(found)


def titled(pid: int) -> dict[int, str]:
    """`pid` and its live descendants that name themselves (setproctitle) "wadofarm: ROLE",
    as pid -> ROLE: "supervisor", "router 2/4", "render 5/16". Only the server's own tree, so
    other servers on the machine are never counted."""
    found = {}
    for candidate in [pid, *descendants(pid)]:
        line = cmdline(candidate)
        if line.startswith(TITLE) and alive(candidate):
            found[candidate] = line.removeprefix(TITLE).strip()
    return found


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
    """The render workers of a wadofarm server (its supervisor's pid) or of one of its routers:
    the processes under it titled "wadofarm: render …" (not multiprocessing's resource
    tracker, also a child)."""
    return titled_as(pid, "render ")


def routers(pid: int) -> list[int]:
    """The routers of a wadofarm server (its supervisor's pid), a draining one included."""
    return titled_as(pid, "router ")


def titled_as(pid: int, role: str) -> list[int]:
    return sorted(p for p in descendants(pid) if cmdline(p).startswith(TITLE + role) and alive(p))


LISTEN = "0A"  # the TCP state column of /proc/net/tcp (include/net/tcp_states.h)


def listeners(port: int) -> int:
    """Sockets listening on `port` (each router of a server has its own, SO_REUSEPORT)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == LISTEN:
                count += 1
    return count


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


@dataclass(frozen=True, slots=True)
class Role:
    name: str  # "router 1/2", "render 1/4", "supervisor", "orthanc", "client"
    pid: int


def server_roles(pid: int) -> list[Role]:
    """A wadofarm server's processes by their titles: its supervisor, routers and render
    workers."""
    return [Role(title, child) for child, title in sorted(titled(pid).items())]


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
