"""The render worker process: receive a job, render it, send the result; never die of a bad file."""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import signal
import socket
import struct
import warnings
from collections.abc import Callable

from setproctitle import setproctitle

from renderer.errors import RenderError, UnsupportedImage
from renderer.params import Answer, RenderResult, ShowsImage
from renderer.process import wire

logger = logging.getLogger(__name__)


def main(sock: socket.socket, frame_cache_bytes: int = 0) -> None:
    # "wadofarm: render 5/16" in ps and top: the pool names each worker's process.
    setproctitle(f"wadofarm: {multiprocessing.current_process().name}")
    # Ctrl+C in a terminal reaches the whole process group; the router shuts the pool down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # pydicom warns about every odd value it reads (and logs it too); a render's verdict is its
    # image or its RenderError, so none of that reaches the server's stderr.
    warnings.filterwarnings("ignore", module="pydicom")
    logging.getLogger("pydicom").setLevel(logging.ERROR)
    from renderer.files import frames
    from renderer.pipeline import render  # imports numpy, pydicom and the codecs once

    frames.configure(frame_cache_bytes)
    with sock:  # closed on every way out: a worker leaks no socket
        _serve(sock, render)


def _serve(sock: socket.socket, render: Callable[..., Answer]) -> None:
    wire.send_ready(sock)
    while True:
        job = wire.recv_job(sock)
        if job is None:  # the router closed the socket or died
            return
        job_id, source, params = job
        del job
        reply: Answer | RenderError
        try:
            reply = render(source, params)
        except RenderError as exc:
            reply = exc
        except MemoryError:
            reply = UnsupportedImage("not enough memory to render this image")
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # a decoder bug (or a Rust panic) costs one request only
            logger.exception("render failed")
            reply = UnsupportedImage(
                f"render failed: {exc or 'no reason given'} (an error inside the renderer, logged)"
            )
        del source
        try:
            if isinstance(reply, RenderResult):
                try:
                    wire.send_result(sock, job_id, reply)
                except (struct.error, ValueError) as exc:  # a value the reply header cannot hold
                    logger.error("render result of job %d not sent: %s", job_id, exc)
                    _send_error(sock, job_id, UnsupportedImage(f"render failed: {exc}"))
            elif isinstance(reply, ShowsImage):
                wire.send_shows(sock, job_id, reply)
            else:
                _send_error(sock, job_id, reply)
        except OSError:  # the router died during the render (SIGKILL): nobody to answer
            return
        del reply


def _send_error(sock: socket.socket, job_id: int, error: RenderError) -> None:
    try:
        wire.send_error(sock, job_id, error)
    except (pickle.PicklingError, TypeError, AttributeError):  # an error that will not pickle
        wire.send_error(sock, job_id, UnsupportedImage(f"render failed: {error}"))
