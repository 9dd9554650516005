"""One access log line per request: the combined format of Apache and nginx, or JSON for log
pipelines (--log-format json).

A line costs what it must and no more: the timestamp is formatted once per second, not per line
(aiohttp's own web_log caches its time zone likewise), and lines are handed to the logger in
batches, at most FLUSH_SECONDS late, so the stream is written and flushed once per batch rather
than once per request. Lines still buffered when the process exits are written at exit; a
process killed with SIGKILL loses at most the last FLUSH_SECONDS of them.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import time

import orjson
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

ACCESS_LOGGER = "wadofarm.access"


def _quote(value: str) -> str:
    """A header value inside double quotes, escaped as nginx does, so a line stays one line."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _sent(response: StreamResponse) -> int:
    """Body bytes: the declared length, else what went out (streamed answers)."""
    length = response.content_length
    return length if length is not None else response.body_length


_now = time.time  # log()'s `time` argument (aiohttp's name) shadows the module inside it
FLUSH_SECONDS = 0.25  # the longest a line waits in the batch
# Or once this many bytes wait, whichever comes first: PIPE_BUF, the most a write() to a pipe
# keeps whole when several processes write to it (--routers N sharing one stderr), so one
# router's batch never splits another's line.
FLUSH_BYTES = 4096


class _Clock:
    """The local time of the current second, formatted once per second for each format."""

    def __init__(self) -> None:
        self._second = -1
        self.combined = ""  # 02/Dec/2026:01:03:24 +0000
        self.iso = ""  # 2026-12-02T01:03:24
        self.offset = ""  # +00:00

    def tick(self, now: float) -> None:
        second = int(now)
        if second != self._second:
            local = time.localtime(second)  # the zone (and DST) as of this second
            self.combined = time.strftime("%d/%b/%Y:%H:%M:%S %z", local)
            self.iso = time.strftime("%Y-%m-%dT%H:%M:%S", local)
            zone = time.strftime("%z", local)
            self.offset = f"{zone[:3]}:{zone[3:]}"
            self._second = second


_clock = _Clock()


class _Batch:
    """Lines waiting to be handed to their logger as one record (one write, one flush)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.size = 0  # bytes, with the newlines
        self.logger: logging.Logger | None = None
        self._timer: asyncio.TimerHandle | None = None
        atexit.register(self.flush)

    def add(self, logger: logging.Logger, line: str) -> None:
        size = (len(line) if line.isascii() else len(line.encode())) + 1
        if logger is not self.logger or self.size + size > FLUSH_BYTES:
            self.flush()
            self.logger = logger
        self.lines.append(line)
        self.size += size
        if self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no event loop: nothing would flush later
                self.flush()
                return
            self._timer = loop.call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.lines and self.logger is not None:
            text = "\n".join(self.lines)
            self.lines.clear()
            self.size = 0
            self.logger.info("%s", text)


_batch = _Batch()


class CombinedAccessLogger(AbstractAccessLogger):
    """host ident user [time] "request line" status bytes "referer" "user agent"."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        _clock.tick(_now())
        now = _clock.combined
        line = (
            f"{request.remote or '-'} - - [{now}] "
            f'"{request.method} {_quote(request.raw_path)} '
            f'HTTP/{request.version.major}.{request.version.minor}" '
            f"{response.status} {_sent(response)} "
            f'"{_quote(request.headers.get("Referer", "-"))}" '
            f'"{_quote(request.headers.get("User-Agent", "-"))}"'
        )
        _batch.add(self.logger, line)


class JsonAccessLogger(AbstractAccessLogger):
    """One JSON object a line, with the duration and the render cache's say."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        record = {
            "time": _now_iso(),
            "remote": request.remote,
            "method": request.method,
            "path": request.path,
            "query": request.query_string,
            "status": response.status,
            "bytes": _sent(response),
            "duration_ms": round(time * 1000.0, 3),
            "referer": request.headers.get("Referer"),
            "user_agent": request.headers.get("User-Agent"),
            "cache": response.headers.get("X-Wadofarm-Cache"),
        }
        _batch.add(self.logger, orjson.dumps(record).decode())


def _now_iso() -> str:
    """Local time with milliseconds and the zone, as datetime.isoformat(timespec="milliseconds")."""
    now = _now()
    _clock.tick(now)
    return f"{_clock.iso}.{int(now * 1000) % 1000:03d}{_clock.offset}"


FORMATS: dict[str, type[AbstractAccessLogger]] = {
    "combined": CombinedAccessLogger,
    "json": JsonAccessLogger,
}


def access_logger() -> logging.Logger:
    """The logger access lines go to, on their own, without the level/name prefix."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(logging.INFO)
    return logger
