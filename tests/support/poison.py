"""A file that kills every render worker that opens it, as a decoder crash or the OOM killer
would: Linux's inotify says when the file is opened, and the server's render workers are then
killed with SIGKILL. No file we can make crashes a worker on purpose (every decoder failure is
caught), so the crash comes from outside, triggered by the open itself."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import signal
import struct
import threading
from pathlib import Path
from types import TracebackType

from tests.support import procs

IN_OPEN = 0x20  # inotify(7)
EVENT = struct.Struct("iIII")  # wd, mask, cookie, len (then len bytes of name)


class Poison:
    """While open, every open of `path` SIGKILLs the render workers under `server_pid` (run the
    server with one worker, so that the worker killed is the one that opened it)."""

    def __init__(self, path: Path, server_pid: int) -> None:
        self.path = path
        self.server_pid = server_pid
        self.kills = 0
        self._libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self._fd = self._libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if self._libc.inotify_add_watch(self._fd, str(path).encode(), IN_OPEN) < 0:
            os.close(self._fd)
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {path}")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="poison", daemon=True)

    def __enter__(self) -> Poison:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(5)
        os.close(self._fd)

    def _watch(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._fd], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self._fd, 4096)
            except BlockingIOError:
                continue
            opened = any(EVENT.unpack_from(data, offset)[1] & IN_OPEN for offset in _offsets(data))
            if opened:
                for pid in procs.workers(self.server_pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                        self.kills += 1
                    except ProcessLookupError:
                        pass


def _offsets(data: bytes) -> list[int]:
    found, offset = [], 0
    while offset + EVENT.size <= len(data):
        found.append(offset)
        offset += EVENT.size + EVENT.unpack_from(data, offset)[3]
    return found
