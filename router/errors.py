"""Errors with an HTTP meaning, and the one middleware that turns every error into a response."""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web

from renderer import errors as render_errors

logger = logging.getLogger(__name__)


class WadoError(Exception):
    status = 500

    def __init__(
        self, detail: str, headers: dict[str, str] | None = None, close: bool = False
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.close = close  # the connection is closed after the answer (a body left unread)


class InvalidRequest(WadoError):
    status = 400


class Unauthorized(WadoError):
    status = 401


class Forbidden(WadoError):
    status = 403


class RequestTimeout(WadoError):
    status = 408


class NotFound(WadoError):
    status = 404


class NotAcceptable(WadoError):
    status = 406


class UnsupportedImage(WadoError):
    status = 415


class Overloaded(WadoError):
    status = 503


class UpstreamError(WadoError):
    status = 502


class UpstreamTimeout(WadoError):
    status = 504


def connection_words(exc: BaseException) -> str:
    """What went wrong on a connection to Orthanc (or Redis), in words for an error body or a log
    line: never the name of a Python class, which tells a user nothing."""
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "it closed the connection without answering"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "its answer was cut short"
    cause = getattr(exc, "os_error", None) or exc  # aiohttp's connector errors wrap the OS's
    if isinstance(cause, socket.gaierror):
        return "its host name does not resolve"
    if isinstance(cause, ConnectionRefusedError):
        return "the connection was refused: nothing listens at that address and port"
    if isinstance(cause, ConnectionResetError):
        return "it reset the connection"
    if isinstance(cause, ssl.SSLError | aiohttp.ClientSSLError):
        return "the TLS handshake failed (is its certificate trusted?)"
    if isinstance(cause, TimeoutError):
        return "it did not answer in time"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror[:1].lower() + cause.strerror[1:]
    return "the connection failed"


# The renderer says what went wrong; this table alone says what that means over HTTP.
RENDER_STATUS: dict[type[render_errors.RenderError], int] = {
    render_errors.NotDicom: 415,
    render_errors.UnsupportedImage: 415,
    render_errors.NotOffered: 406,
    render_errors.ImageTooLarge: 415,
    render_errors.FrameOutOfRange: 400,
    render_errors.OutputTooLarge: 400,
    render_errors.RegionOutOfRange: 400,
    render_errors.NotAPresentationState: 400,
    render_errors.NotReferenced: 400,
    render_errors.WorkerCrashed: 502,
    render_errors.RenderTimeout: 504,
    render_errors.PoolOverloaded: 503,
    render_errors.PoolClosed: 503,
    render_errors.SourceMissing: 404,
    render_errors.SourceUnavailable: 502,
    render_errors.SourceTimeout: 504,
    render_errors.SourceTooLarge: 413,
    render_errors.WouldIdentify: 403,
}
RETRY_AFTER = {503: "1"}


def error_response(status: int, detail: str, headers: dict[str, str] | None = None) -> web.Response:
    one_line = " ".join(detail.split())[:500]
    response = web.Response(status=status, text=one_line + "\n", content_type="text/plain")
    if status in RETRY_AFTER:
        response.headers["Retry-After"] = RETRY_AFTER[status]
    response.headers.update(headers or {})
    return response


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except WadoError as exc:
        if exc.status >= 500:
            logger.warning(
                "%s %s -> %d %s", request.method, request.path_qs, exc.status, exc.detail
            )
        response = error_response(exc.status, exc.detail, exc.headers)
        if exc.close:
            response.force_close()
        return response
    except render_errors.RenderError as exc:
        status = RENDER_STATUS.get(type(exc), 500)
        if status >= 500:
            logger.warning("%s %s -> %d %s", request.method, request.path_qs, status, exc.reason)
        return error_response(status, exc.reason)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        keep = {
            k: v
            for k, v in exc.headers.items()
            if k.lower() not in ("content-type", "content-length")
        }
        return error_response(exc.status, exc.reason, keep)
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, request.path_qs)
        return error_response(500, "internal server error")
