"""The supervisor's line to each router: a socketpair on which the supervisor pings and the
router's event loop answers, as uvicorn's `supervisors/multiprocess.py` pings its workers
through a pipe. The answer comes from the event loop itself, not from a thread beside it, so a
router whose loop is stuck (a handler that never yields) is caught as surely as one stopped
whole (SIGSTOP) or lost in the kernel. The router also says on it when it serves (after its
render workers have started and its port listens), which a reload waits for before it drains
the router it replaces.

One byte a message, in both directions: nothing to frame, and any version of wadofarm speaks it
(a reload starts routers from newly installed code under a supervisor that keeps its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

PING, PONG, READY = b"p", b"o", b"r"
PING_EVERY = 0.5  # seconds between pings of a router that answered the last one


# The router's side.


def answer(loop: asyncio.AbstractEventLoop, line: socket.socket) -> None:
    """Answer every ping from this event loop, for as long as it runs."""
    line.setblocking(False)

    def ping() -> None:
        try:
            got = line.recv(64)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            got = b""
        if not got:  # the supervisor has gone: its watch on the parent stops this router
            loop.remove_reader(line.fileno())
            return
        with contextlib.suppress(OSError):
            line.send(PONG * got.count(PING))

    loop.add_reader(line.fileno(), ping)


def announce_ready(line: socket.socket) -> None:
    """This router serves: its port listens and its render workers run."""
    with contextlib.suppress(OSError):
        line.send(READY)


# The supervisor's side.


class Watch:
    """A router's line, as the supervisor sees it: when it last answered, whether it serves."""

    def __init__(self, line: socket.socket) -> None:
        self.line = line
        line.setblocking(False)
        self.started = time.monotonic()
        self.answered: float | None = None  # when it last answered; None: not yet
        self.ready = False
        self._pinged = 0.0

    def poll(self) -> None:
        """Read what the router said, and ping it if it is due."""
        now = time.monotonic()
        try:
            while said := self.line.recv(256):
                if PONG in said or READY in said:
                    self.answered = now
                if READY in said:
                    self.ready = True
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            return
        if now - self._pinged >= PING_EVERY:
            self._pinged = now
            with contextlib.suppress(OSError):  # a full buffer: it has not read for a while
                self.line.send(PING)

    def silent_for(self) -> float:
        """Seconds since the router last answered (since it started, if it never has)."""
        return time.monotonic() - (self.answered or self.started)

    def close(self) -> None:
        self.line.close()
