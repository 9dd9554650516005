"""`--routers N` (N > 1): a supervisor process that starts N routers on one port, replaces a
router that dies and stops them all on SIGTERM.

Each router binds the port itself with SO_REUSEPORT: the kernel hands every new connection to
one of the listening routers, so no process stands between a client and its router. The
supervisor only watches, on a timer (as uvicorn's `supervisors/multiprocess.py` does), and holds
the port bound but not listening, so it can say at once when the port is taken and nobody else
can take it while a router restarts. It is small rather than gunicorn: gunicorn's master binds
one socket that every worker accepts from, has no notion of a worker's number (each router
here drives its own numbered share of the render workers), and would add a dependency and a
configuration language for what is a hundred lines here.

/metrics adds up across routers through prometheus_client's multiprocess format: each router
copies its figures to files in one temporary folder per server (router.metrics), and whichever
router is asked reads them all.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from dataclasses import dataclass

from setproctitle import setproctitle

from router import port as ports
from router.config import Config
from router.place import TITLE, Place, places
from router.server import SHUTDOWN_TIMEOUT, run_router

logger = logging.getLogger(__name__)

# Spawn, not fork: a router starts its own event loop and threads (as the render pool does).
MP_CONTEXT = multiprocessing.get_context("spawn")
HANDLED_SIGNALS = (
    signal.SIGINT,  # Unix signal 2. Sent by Ctrl+C.
    signal.SIGTERM,  # Unix signal 15. Sent by `kill <pid>`.
)
CHECK_INTERVAL = 0.2  # seconds between looks at the routers
RESTART_DELAY_MAX = 5.0  # a router that keeps dying at start is retried at most this often
QUICK_DEATH = 5.0  # seconds: a router that dies sooner is restarted after a growing delay
# A router drains its requests (SHUTDOWN_TIMEOUT), then its render pool (up to 10 s).
STOP_GRACE = SHUTDOWN_TIMEOUT + 15.0


@dataclass(slots=True)
class _Router:
    place: Place
    process: multiprocessing.process.BaseProcess | None = None
    started: float = 0.0
    delay: float = 0.0  # before the next start, after quick deaths
    next_start: float = 0.0


class Supervisor:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.should_exit = threading.Event()
        self.routers: list[_Router] = []

    def run(self) -> int:
        setproctitle(f"{TITLE}supervisor")
        host, port = self.config.host, self.config.port
        if port and ports.answers(host, port):
            # Another server whose sockets also allow SO_REUSEPORT (another wadofarm) would
            # share the port with ours, each taking some of the connections: refuse instead.
            logger.error("%s", ports.taken(host, port))
            return 1
        try:
            held = hold_port(host, port)
        except OSError as exc:
            logger.error("%s", ports.why(exc, host, port))
            return 1
        port = held[0].getsockname()[1]  # --port 0: the one the kernel picked, for every router
        config = dataclasses.replace(self.config, port=port)
        metrics_dir = tempfile.mkdtemp(prefix="wadofarm-metrics-")
        for sig in HANDLED_SIGNALS:
            signal.signal(sig, self._signalled)
        try:
            self.routers = [_Router(place) for place in places(config, metrics_dir)]
            logger.info(
                "supervisor (pid %d) starting %d routers on port %d, %d render workers",
                os.getpid(),
                len(self.routers),
                port,
                config.workers,
            )
            for router in self.routers:
                self._start(config, router)
            while not self.should_exit.wait(CHECK_INTERVAL):
                self._check(config, metrics_dir)
            self._stop()
        finally:
            for sock in held:
                sock.close()
            shutil.rmtree(metrics_dir, ignore_errors=True)
        logger.info("supervisor stopped")
        return 0

    def _signalled(self, sig: int, frame: object) -> None:
        self.should_exit.set()

    def _start(self, config: Config, router: _Router) -> None:
        process = MP_CONTEXT.Process(
            target=run_router,
            args=(config, router.place),
            name=f"router {router.place.index}",
            daemon=False,  # a router has children of its own: its render workers
        )
        process.start()
        router.process = process
        router.started = time.monotonic()

    def _check(self, config: Config, metrics_dir: str) -> None:
        """Replace every router that has died."""
        now = time.monotonic()
        for router in self.routers:
            process = router.process
            if process is not None and process.is_alive():
                continue
            if process is not None:  # just found dead
                process.join()
                _forget_metrics(process.pid, metrics_dir)
                lived = now - router.started
                router.delay = (
                    min(max(router.delay * 2, 0.1), RESTART_DELAY_MAX) if lived < QUICK_DEATH else 0
                )
                router.next_start = now + router.delay
                router.process = None
                logger.error(
                    "%s (pid %s) died after %.1f s, exit code %s; starting another in %.1f s",
                    router.place.title.removeprefix(TITLE),
                    process.pid,
                    lived,
                    process.exitcode,
                    router.delay,
                )
            if now >= router.next_start:
                self._start(config, router)

    def _stop(self) -> None:
        """SIGTERM to every router at once: each stops accepting, drains and stops its workers."""
        running = [
            r.process for r in self.routers if r.process is not None and r.process.is_alive()
        ]
        logger.info("stopping %d routers", len(running))
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        deadline = time.monotonic() + STOP_GRACE
        for process in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                logger.error(
                    "router pid %s did not stop in %.0f s; killing it", process.pid, STOP_GRACE
                )
                process.kill()
                process.join(5)


def hold_port(host: str, port: int) -> list[socket.socket]:
    """Bind (not listen) the port with SO_REUSEPORT on every address of `host`, as each router
    will: a taken port fails here, once, instead of in every router."""
    held = []
    try:
        for family, kind, proto, _, address in socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        ):
            sock = socket.socket(family, kind, proto)
            held.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((address[0], port, *address[2:]))
            port = sock.getsockname()[1]  # --port 0: the other addresses take the same one
    except OSError:
        for sock in held:
            sock.close()
        raise
    return held


def _forget_metrics(pid: int | None, folder: str) -> None:
    """A dead router's gauges (cache bytes, workers alive) stop counting; its counters stay."""
    if pid is None:
        return
    from prometheus_client import multiprocess

    with contextlib.suppress(OSError):
        multiprocess.mark_process_dead(pid, folder)  # type: ignore[no-untyped-call]
