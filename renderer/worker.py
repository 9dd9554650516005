"""The render worker process: receive a job, render it, send the result; never die of a bad file."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
from collections.abc import Callable

from setproctitle import setproctitle

from renderer import wire
from renderer.errors import RenderError, UnsupportedImage
from renderer.params import RenderResult

logger = logging.getLogger(__name__)

READY = "ready"


def main(sock: socket.socket, frame_cache_bytes: int = 0) -> None:
    # "wadofarm: render 5/16" in ps and top: the pool names each worker's process.
    setproctitle(f"wadofarm: {multiprocessing.current_process().name}")
    # Ctrl+C in a terminal reaches the whole process group; the router shuts the pool down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from renderer import frames
    from renderer.pipeline import render  # imports numpy, pydicom and the codecs once

    frames.configure(frame_cache_bytes)
    with sock:  # closed on every way out: a worker leaks no socket
        _serve(sock, render)


def _serve(sock: socket.socket, render: Callable[..., RenderResult]) -> None:
    wire.send_blocking(sock, READY)
    while True:
        message = wire.recv_blocking(sock)
        if message is None:  # the router closed the socket or died
            return
        job_id, source, params = message
        reply: tuple[int, bool, RenderResult | RenderError]
        try:
            reply = (job_id, True, render(source, params))
        except RenderError as exc:
            reply = (job_id, False, exc)
        except MemoryError:
            reply = (job_id, False, UnsupportedImage("not enough memory to render this image"))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # a decoder bug (or a Rust panic) costs one request only
            logger.exception("render failed")
            reply = (job_id, False, UnsupportedImage(f"render failed: {type(exc).__name__}: {exc}"))
        del source, message
        try:
            wire.send_blocking(sock, reply)
        except OSError:  # the router died during the render (SIGKILL): nobody to answer
            return
