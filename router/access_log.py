"""One access log line per request: the combined format of Apache and nginx, or JSON for log
pipelines (--log-format json)."""

from __future__ import annotations

import logging
from datetime import datetime

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


class CombinedAccessLogger(AbstractAccessLogger):
    """host ident user [time] "request line" status bytes "referer" "user agent"."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        now = datetime.now().astimezone().strftime("%d/%b/%Y:%H:%M:%S %z")
        line = (
            f"{request.remote or '-'} - - [{now}] "
            f'"{request.method} {_quote(request.raw_path)} '
            f'HTTP/{request.version.major}.{request.version.minor}" '
            f"{response.status} {_sent(response)} "
            f'"{_quote(request.headers.get("Referer", "-"))}" '
            f'"{_quote(request.headers.get("User-Agent", "-"))}"'
        )
        self.logger.info("%s", line)


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
        self.logger.info("%s", orjson.dumps(record).decode())


def _now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


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
