"""The supervisor: `wadofarm serve` itself. It starts the routers (one, or `--routers N`) on one
port, watches them, replaces one that dies or hangs, reloads them all on SIGHUP and stops them
on SIGTERM.

Each router binds the port itself with SO_REUSEPORT: the kernel hands every new connection to
one of the listening routers, so no process stands between a client and its router. The
supervisor holds the port bound but not listening, so it can say at once when the port is
taken and nobody else can take it while a router restarts. It is small rather than gunicorn:
gunicorn's master binds one socket that every worker accepts from, has no notion of a
worker's number (each router here drives its own numbered share of the render workers), and
would add a dependency and a configuration language for what is a few hundred lines here.

- **Dead**: a router that exits is replaced (after a growing delay if it keeps dying at start).
- **Hung**: the supervisor pings every router on its own line (router.heartbeat) and its event
  loop answers; one silent for --router-timeout (a stuck loop, SIGSTOP) is killed with SIGKILL
  and replaced. Bound: killed within --router-timeout + PING_EVERY + CHECK_INTERVAL of its
  last answer (5.7 s by default); the new one serves once it has started.
- **Reload** (SIGHUP): one router at a time, a new router is started from the code installed
  now (a `pip install` since) and the command line and --env-file read again; once it serves
  beside the old one, the old one drains (router.server: no request dropped) and exits; then
  the next. A new router that cannot start leaves the old one serving. --host, --port and
  --routers stay as started.
- **Stop** (SIGTERM, SIGINT): every router drains at once.

Routers are started from `wadofarm serve`'s own arguments, not from a pickled Config, so that
a router of a newer version reads them with its own code.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from setproctitle import setproctitle

from router import heartbeat
from router import port as ports
from router.auth import AuthMode
from router.config import Config
from router.place import TITLE, Place, places

logger = logging.getLogger(__name__)

# Spawn, not fork: a router starts its own event loop and threads (as the render pool does), and
# a reload must run the code installed now.
MP_CONTEXT = multiprocessing.get_context("spawn")
HANDLED_SIGNALS = (
    signal.SIGINT,  # Unix signal 2. Sent by Ctrl+C.
    signal.SIGTERM,  # Unix signal 15. Sent by `kill <pid>`.
)
RELOAD_SIGNAL = signal.SIGHUP  # Unix signal 1. `kill -HUP <pid>`: start new routers, drain the old
CHECK_INTERVAL = 0.2  # seconds between looks at the routers
RESTART_DELAY_MAX = 5.0  # a router that keeps dying at start is retried at most this often
QUICK_DEATH = 5.0  # seconds: a router that dies sooner is restarted after a growing delay
START_GRACE = 60.0  # seconds a new router has to answer its first ping (imports, before a loop)
RELOAD_TRIES = 3  # new routers that die before serving, before a reload gives up
# A router drains its requests (SHUTDOWN_TIMEOUT), then its render pool (up to 10 s).
STOP_GRACE = 15.0 + 2.0 + 15.0

# How a router is started: `wadofarm serve`'s arguments and the variables of --env-file.
Settings = tuple[tuple[str, ...], dict[str, str]]


@dataclass(slots=True)
class _Process:
    process: multiprocessing.process.BaseProcess
    watch: heartbeat.Watch
    started: float = field(default_factory=time.monotonic)
    stopping: float | None = None  # when it was told to drain (a reload's old router)

    @property
    def pid(self) -> int | None:
        return self.process.pid


@dataclass(slots=True)
class _Router:
    """One place on the port, and the processes that hold it."""

    place: Place
    current: _Process | None = None
    successor: _Process | None = None  # a reload's new router, until it serves
    retiring: _Process | None = None  # the router a reload replaced, while it drains
    delay: float = 0.0  # before the next start, after quick deaths
    next_start: float = 0.0
    failed_starts: int = 0  # a reload's new routers that died before serving

    @property
    def name(self) -> str:
        return self.place.title.removeprefix(TITLE)


class Supervisor:
    def __init__(
        self,
        config: Config,
        argv: Sequence[str],
        environ: dict[str, str] | None = None,
        reread: Callable[[], tuple[Config, dict[str, str]]] | None = None,
    ) -> None:
        """`argv`: `wadofarm`'s arguments (`serve …`), which each router reads again with
        `environ`, the variables of --env-file; `reread`: both as a reload finds them (the
        command line and --env-file read again)."""
        self.config = config
        self.argv = tuple(argv)
        self.reread = reread
        self.environ = dict(environ or {})
        self.should_exit = threading.Event()
        self.reload_asked = False
        self.routers: list[_Router] = []
        self._reloading: list[_Router] = []  # routers still to replace, in order
        self._metrics_dir: str | None = None
        self._asked_port = config.port  # --port as given (0: any), before the kernel's pick

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
        self.config = dataclasses.replace(self.config, port=port)
        self.config, self.environ = self._settled(self.config, self.environ)
        shared = self.config.router_count > 1
        self._metrics_dir = tempfile.mkdtemp(prefix="wadofarm-metrics-") if shared else None
        for sig in HANDLED_SIGNALS:
            signal.signal(sig, self._signalled)
        signal.signal(RELOAD_SIGNAL, self._reload_signalled)
        try:
            self.routers = [_Router(place) for place in places(self.config, self._metrics_dir)]
            logger.info(
                "supervisor (pid %d) starting %d router%s on port %d, %d render workers",
                os.getpid(),
                len(self.routers),
                "s" if len(self.routers) > 1 else "",
                port,
                self.config.workers,
            )
            for router in self.routers:
                router.current = self._start(router)
            while not self.should_exit.wait(CHECK_INTERVAL):
                self._check()
                if self.reload_asked and not self._reloading:
                    self._begin_reload()
                if self._reloading:
                    self._reload_step()
            self._stop()
        finally:
            for sock in held:
                sock.close()
            if self._metrics_dir is not None:
                shutil.rmtree(self._metrics_dir, ignore_errors=True)
        logger.info("supervisor stopped")
        return 0

    def _signalled(self, sig: int, frame: object) -> None:
        self.should_exit.set()

    def _reload_signalled(self, sig: int, frame: object) -> None:
        self.reload_asked = True  # a reload under way finishes first; this one follows

    def _settled(
        self, config: Config, environ: dict[str, str], reloading: bool = False
    ) -> tuple[Config, dict[str, str]]:
        """A configuration as the routers get it: the port the supervisor holds, --auth auto
        decided once here (router.exposure) rather than by each router (or left to each router
        when Orthanc does not answer at start: exposure.Pending). A reload that finds Orthanc
        not answering keeps the decision it had, rather than go back to undecided."""
        from router import exposure

        config = dataclasses.replace(config, port=self.config.port)
        auto = reloading and config.auth is AuthMode.AUTO and config.orthanc_url
        if auto and exposure.probe(config.orthanc_url or "", config.upstream_timeout) is None:
            logger.warning(
                "reload: Orthanc does not answer; keeping --auth %s", self.config.auth.value
            )
            config = dataclasses.replace(config, auth=self.config.auth)
        return exposure.settle(config), environ

    def _arguments(self) -> tuple[list[str], dict[str, str]]:
        """What a router reads: `wadofarm serve`'s arguments, with the settled port and --auth
        after them (the last of a flag wins), and the variables of --env-file."""
        settled = ["--port", str(self.config.port), "--auth", self.config.auth.value]
        return [*self.argv, *settled], dict(self.environ)

    def _start(self, router: _Router) -> _Process:
        ours, theirs = socket.socketpair()
        argv, environ = self._arguments()
        process = MP_CONTEXT.Process(
            target=router_main,
            args=(argv, environ, dataclasses.asdict(router.place), theirs),
            name=f"router {router.place.index}",
            daemon=False,  # a router has children of its own: its render workers
        )
        try:
            process.start()
        finally:
            theirs.close()
        return _Process(process, heartbeat.Watch(ours))

    def _check(self) -> None:
        """Replace every router that has died or stopped answering."""
        now = time.monotonic()
        for router in self.routers:
            for held in (router.current, router.successor, router.retiring):
                if held is not None:
                    held.watch.poll()
            self._check_retiring(router)
            if router.successor is not None and not router.successor.process.is_alive():
                self._buried(router, router.successor, "a reload's new router")
                router.successor = None
                router.failed_starts += 1
            if router.successor is not None:
                self._watch_for_hang(router, router.successor)
            current = router.current
            if current is not None and current.process.is_alive():
                self._watch_for_hang(router, current)
                continue
            if current is not None:  # just found dead
                lived = self._buried(router, current, router.name)
                router.delay = (
                    min(max(router.delay * 2, 0.1), RESTART_DELAY_MAX) if lived < QUICK_DEATH else 0
                )
                router.next_start = now + router.delay
                router.current = None
                if router.delay:
                    logger.error("starting another %s in %.1f s", router.name, router.delay)
            if now >= router.next_start:
                router.current = self._start(router)

    def _watch_for_hang(self, router: _Router, held: _Process) -> None:
        watch = held.watch
        limit = self.config.router_timeout if watch.answered is not None else START_GRACE
        silent = watch.silent_for()
        if silent > limit:
            logger.error(
                "%s (pid %s) has not answered the supervisor for %.1f s (--router-timeout "
                "%g); killing it",
                router.name,
                held.pid,
                silent,
                self.config.router_timeout,
            )
            with contextlib.suppress(ProcessLookupError):
                held.process.kill()  # SIGKILL: a stopped process takes it too
            held.process.join(5)

    def _buried(self, router: _Router, held: _Process, what: str) -> float:
        """Reap a router found dead; how long it lived."""
        held.process.join()
        held.watch.close()
        _forget_metrics(held.pid, self._metrics_dir)
        lived = time.monotonic() - held.started
        logger.error(
            "%s (pid %s) died after %.1f s, exit code %s",
            what,
            held.pid,
            lived,
            held.process.exitcode,
        )
        return lived

    def _check_retiring(self, router: _Router) -> None:
        held = router.retiring
        if held is None:
            return
        if held.process.is_alive():
            if time.monotonic() - (held.stopping or 0.0) > STOP_GRACE:
                logger.error("old %s (pid %s) did not drain; killing it", router.name, held.pid)
                held.process.kill()
                held.process.join(5)
            else:
                return
        held.process.join()
        held.watch.close()
        _forget_metrics(held.pid, self._metrics_dir)
        logger.info("old %s (pid %s) drained and stopped", router.name, held.pid)
        router.retiring = None

    def _begin_reload(self) -> None:
        self.reload_asked = False
        if self.reread is not None:
            try:
                fresh, environ = self.reread()
                fixed = {"host": "--host", "port": "--port", "router_count": "--routers"}
                asked = {"host": self.config.host, "port": self._asked_port}
                asked["router_count"] = self.config.router_count
                changed = [
                    flag for name, flag in fixed.items() if getattr(fresh, name) != asked[name]
                ]
                if changed:
                    logger.warning(
                        "reload: %s take a restart, not a reload; kept as started",
                        ", ".join(changed),
                    )
                    fresh = dataclasses.replace(
                        fresh, host=self.config.host, routers=self.config.router_count
                    )
                config, environ = self._settled(fresh, environ, reloading=True)
                new_places = places(config, self._metrics_dir)
            except Exception as exc:  # a bad setting: nothing changes
                logger.error("reload refused, the routers keep serving: %s", exc)
                return
            self.config, self.environ = config, environ
            for router, place in zip(self.routers, new_places, strict=True):
                router.place = place  # --workers may have changed
        logger.info("reload: starting new routers one at a time, then draining the old ones")
        self._reloading = list(self.routers)
        for router in self._reloading:
            router.failed_starts = 0

    def _reload_step(self) -> None:
        """Advance the reload of the first router left: start its successor, and once that
        serves, drain the old one; once that has gone, go on to the next."""
        router = self._reloading[0]
        if router.retiring is not None:
            return  # draining
        if router.successor is None:
            if router.failed_starts >= RELOAD_TRIES:
                logger.error(
                    "reload: a new %s died %d times before serving; the old routers keep "
                    "serving (see the errors above)",
                    router.name,
                    router.failed_starts,
                )
                self._reloading = []
                return
            router.successor = self._start(router)
            return
        if not router.successor.watch.ready:
            return
        old, router.current, router.successor = router.current, router.successor, None
        if old is not None and old.process.is_alive():
            logger.info(
                "reload: new %s (pid %s) serves; draining the old one (pid %s)",
                router.name,
                router.current.pid,
                old.pid,
            )
            old.stopping = time.monotonic()
            with contextlib.suppress(ProcessLookupError):
                old.process.terminate()
            router.retiring = old
        self._reloading.pop(0)
        if not self._reloading:
            logger.info("reload: every router replaced once the old ones have drained")

    def _stop(self) -> None:
        """SIGTERM to every router at once: each stops accepting, drains and stops its workers."""
        running = [
            held
            for router in self.routers
            for held in (router.current, router.successor, router.retiring)
            if held is not None and held.process.is_alive()
        ]
        logger.info("stopping %d routers", len(running))
        for held in running:
            with contextlib.suppress(ProcessLookupError):
                held.process.terminate()
        deadline = time.monotonic() + STOP_GRACE
        for held in running:
            held.process.join(max(0.0, deadline - time.monotonic()))
            if held.process.is_alive():
                logger.error(
                    "router pid %s did not stop in %.0f s; killing it", held.pid, STOP_GRACE
                )
                held.process.kill()
                held.process.join(5)
            held.watch.close()


def router_main(
    argv: list[str], environ: dict[str, str], place: dict[str, object], line: socket.socket
) -> None:
    """A router process: `wadofarm serve`'s arguments read by the code installed now."""
    from router.cli import config_from_argv
    from router.server import run_router

    config = config_from_argv(argv, {**os.environ, **environ})
    run_router(config, Place(**place), line)  # type: ignore[arg-type]


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


def _forget_metrics(pid: int | None, folder: str | None) -> None:
    """A dead router's gauges (cache bytes, workers alive) stop counting; its counters stay."""
    if pid is None or folder is None:
        return
    from prometheus_client import multiprocess

    with contextlib.suppress(OSError):
        multiprocess.mark_process_dead(pid, folder)  # type: ignore[no-untyped-call]
