"""One router process: the aiohttp app on uvloop, on its port, until SIGTERM or SIGINT; then the
drain.

Every router runs under the supervisor (router.supervisor), in a process of its own, and binds
the port with SO_REUSEPORT: the kernel spreads new connections among the routers listening on
it, so a reload's new router serves beside the old one before the old one drains. Each drives
its own share of the render workers (router.place), and answers the supervisor's pings from its
event loop (router.heartbeat).

The drain (SIGTERM, and each old router of a reload): the listening socket closes at once, so
new connections go to the other routers on the port; every open connection gets its next
answer with `Connection: close` and is closed after it, so that no client finds a keep-alive
connection shut under a request it has just sent; those still idle after DRAIN_IDLE seconds
are closed; the requests in flight get SHUTDOWN_TIMEOUT to finish; then the render pool stops.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable

import uvloop
from aiohttp import hdrs, web
from setproctitle import setproctitle

from router import heartbeat
from router.access_log import FORMATS, access_logger
from router.app import create_app
from router.cli import configure_logging
from router.config import Config
from router.keys import METRICS
from router.place import Place

logger = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT = 15.0  # seconds the requests in flight get after SIGTERM
DRAIN_IDLE = 2.0  # seconds an open connection gets to send its next request, while draining
PARENT_CHECK = 1.0  # seconds between looks at whether the supervisor is still there
HANDLED_SIGNALS = (
    signal.SIGINT,  # Unix signal 2. Sent by Ctrl+C (to the supervisor's group only).
    signal.SIGTERM,  # Unix signal 15. Sent by the supervisor, to stop or replace this router.
)


def run_router(config: Config, place: Place, line: socket.socket | None = None) -> None:
    """Serve until told to stop; `config` is the whole server's, the place says which share,
    `line` is the supervisor's (None: run by hand, unsupervised)."""
    setproctitle(place.title)
    # SIGHUP asks the supervisor for a reload; a router's own is ignored.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    if line is not None:
        # Its own process group: Ctrl+C in a terminal reaches the supervisor only, which then
        # stops every router once (a second signal would cut a router's drain short).
        os.setpgrp()
        configure_logging(config)  # a spawned process starts with none
    started = time.time()
    app = create_app(place.config(config), place)
    app[METRICS].watch(lambda: {"wadofarm_router_start_time_seconds": started})
    if line is not None:
        app.cleanup_ctx.append(_supervised(os.getppid()))
    drain = _Drain()
    app.on_response_prepare.append(drain.on_prepare)
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    main = loop.create_task(_serve(app, config, place, line, drain))
    try:
        loop.run_until_complete(main)
    except asyncio.CancelledError:  # stopped while it started (a long folder scan)
        logger.info("%s stopped while starting", place.title.removeprefix("wadofarm: "))
    finally:
        _cancel_all(loop)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


class _Drain:
    """Once on, every answer closes its connection after it (`Connection: close`)."""

    def __init__(self) -> None:
        self.on = False

    async def on_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        if self.on:
            response.force_close()  # closed after this answer
            # and said so: aiohttp wrote its Connection header before this hook runs
            response.headers[hdrs.CONNECTION] = "close"


async def _serve(
    app: web.Application,
    config: Config,
    place: Place,
    line: socket.socket | None,
    drain: _Drain,
) -> None:
    loop = asyncio.get_running_loop()
    if line is not None:
        heartbeat.answer(loop, line)  # from the start: a slow start is not a hang
    stop = asyncio.Event()
    main = asyncio.current_task()
    assert main is not None

    def signalled() -> None:
        if serving:
            stop.set()
        else:  # still starting: stop the start itself (a folder scan stops after its file)
            main.cancel()

    serving = False
    for sig in HANDLED_SIGNALS:
        loop.add_signal_handler(sig, signalled)
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log=access_logger() if config.access_log else None,
        access_log_class=FORMATS[config.log_format],
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        # From a connection's start and after each answer: a request head must be whole
        # within it (aiohttp closes a connection still waiting for one), so slow heads cannot
        # hold connections for ever.
        keepalive_timeout=config.idle_timeout,
    )
    try:
        await runner.setup()
        site = web.TCPSite(
            runner,
            config.host,
            config.port,
            reuse_port=True if line is not None else None,
            shutdown_timeout=SHUTDOWN_TIMEOUT,
        )
        await site.start()
        serving = True
        logging.getLogger("wadofarm").info(
            "%s serving on http://%s:%d/ (gallery), /wado and /dicom-web",
            place.title.removeprefix("wadofarm: "),
            config.host,
            config.port,
        )
        if line is not None:
            heartbeat.announce_ready(line)
        await stop.wait()
        await _drained(runner, site, drain, place)
    finally:
        await runner.cleanup()


async def _drained(runner: web.AppRunner, site: web.TCPSite, drain: _Drain, place: Place) -> None:
    """Stop accepting, then let every open connection take its next answer and close."""
    setproctitle(f"{place.title} draining")
    await site.stop()  # no new connection reaches this router from now on
    drain.on = True
    server = runner.server
    open_now = len(server.connections) if server is not None else 0
    logger.info("draining: %d connections open", open_now)
    deadline = time.monotonic() + DRAIN_IDLE
    while server is not None and server.connections and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    if server is not None and server.connections:
        logger.info("draining: closing %d connections", len(server.connections))


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left running (as aiohttp's run_app does) and let it finish."""
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


def _supervised(parent: int) -> Callable[[web.Application], AsyncIterator[None]]:
    """A router whose supervisor has gone (killed with SIGKILL: no SIGTERM came) stops itself
    instead of holding the port for ever."""

    async def watch() -> None:
        while os.getppid() == parent:
            await asyncio.sleep(PARENT_CHECK)
        logger.warning("the supervisor (pid %d) has gone; stopping", parent)
        os.kill(os.getpid(), signal.SIGTERM)

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(watch(), name="watch-supervisor")
        yield
        task.cancel()

    return ctx
