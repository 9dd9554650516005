"""One router process: the aiohttp app on uvloop, on its port, until SIGTERM or SIGINT.

With several routers each binds the port with SO_REUSEPORT, so the kernel spreads new
connections among them, and drives its own share of the render workers (router.place)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable

import uvloop
from aiohttp import web
from setproctitle import setproctitle

from router.access_log import FORMATS, access_logger
from router.app import create_app
from router.config import Config
from router.place import Place

logger = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT = 15.0  # seconds the requests in flight get after SIGTERM
PARENT_CHECK = 1.0  # seconds between looks at whether the supervisor is still there


def configure_logging(config: Config) -> None:
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def run_router(config: Config, place: Place) -> None:
    """Serve until told to stop; `config` is the whole server's, the place says which share."""
    setproctitle(place.title)
    if place.shared:
        # Its own process group: Ctrl+C in a terminal reaches the supervisor only, which then
        # stops every router once (a second signal would cut a router's drain short).
        os.setpgrp()
        configure_logging(config)  # a spawned process starts with none
    app = create_app(place.config(config), place)
    if place.shared:
        app.cleanup_ctx.append(_supervised(os.getppid()))

    def started(*_: object) -> None:
        logging.getLogger("wadofarm").info(
            "%s serving on http://%s:%d/ (gallery), /wado and /dicom-web",
            place.title.removeprefix("wadofarm: "),
            config.host,
            config.port,
        )

    web.run_app(
        app,
        host=config.host,
        port=config.port,
        reuse_port=place.shared or None,
        loop=uvloop.new_event_loop(),
        access_log=access_logger() if config.access_log else None,
        access_log_class=FORMATS[config.log_format],
        print=started,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        # From a connection's start and after each answer: a request head must be whole
        # within it (aiohttp closes a connection still waiting for one), so slow heads cannot
        # hold connections for ever.
        keepalive_timeout=config.idle_timeout,
    )


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
