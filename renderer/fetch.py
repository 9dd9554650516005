"""Workers fetch the stored file themselves over HTTP (from Orthanc's REST API), so a 512 KB
DICOM file never passes through the router: no read into the event loop, no pickling across
the socketpair (~1.3 ms of the router's one core per request, measured by bench/).

Each worker keeps one keep-alive connection per server; Orthanc drops idle ones after a second,
so a request on a connection the server closed is sent again once on a fresh one (GET is
idempotent).
"""

from __future__ import annotations

import http.client
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from renderer.decode import Source
from renderer.errors import SourceMissing, SourceTimeout, SourceUnavailable

logger = logging.getLogger(__name__)

STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


@dataclass(frozen=True, slots=True)
class HttpSource:
    """A stored file a worker GETs itself. `key` names its content (Orthanc's instance ID) for
    the worker's caches; `authorization` is the header value, if the server wants one."""

    base: str  # scheme://host:port[/prefix], no credentials
    path: str  # e.g. /instances/{id}/file
    key: str
    timeout: float = 10.0
    authorization: str | None = None


RenderSource = Source | HttpSource  # what a worker is sent: bytes, a path, or a URL

_connections: dict[tuple[str, int, float], http.client.HTTPConnection] = {}


def _connection(host: str, port: int, timeout: float) -> http.client.HTTPConnection:
    key = (host, port, timeout)
    conn = _connections.get(key)
    if conn is None:
        conn = _connections[key] = http.client.HTTPConnection(host, port, timeout=timeout)
    return conn


def _drop(host: str, port: int, timeout: float) -> None:
    conn = _connections.pop((host, port, timeout), None)
    if conn is not None:
        conn.close()


def fetch(source: HttpSource) -> bytes:
    """The file's bytes; SourceMissing (404), SourceTimeout or SourceUnavailable otherwise."""
    parts = urlsplit(source.base)
    if parts.scheme != "http" or not parts.hostname:
        raise SourceUnavailable(f"cannot fetch from {source.base}: only http:// is supported")
    host, port = parts.hostname, parts.port or 80
    target = parts.path.rstrip("/") + source.path
    headers = {"Accept-Encoding": "identity"}  # Orthanc gzips otherwise (HttpCompressionEnabled)
    if source.authorization:
        headers["Authorization"] = source.authorization
    for attempt in (1, 2):
        conn = _connection(host, port, source.timeout)
        try:
            conn.request("GET", target, headers=headers)
            reply = conn.getresponse()
            body = reply.read()
        except STALE:
            _drop(host, port, source.timeout)
            if attempt == 2:
                raise SourceUnavailable(f"{source.base} closed the connection") from None
            continue
        except TimeoutError:
            _drop(host, port, source.timeout)
            raise SourceTimeout(
                f"Orthanc at {source.base} did not answer within {source.timeout:g}s"
            ) from None
        except OSError as exc:
            _drop(host, port, source.timeout)
            raise SourceUnavailable(
                f"Orthanc at {source.base} is unreachable: {type(exc).__name__}"
            ) from None
        except http.client.HTTPException as exc:  # e.g. Orthanc died halfway through the file
            _drop(host, port, source.timeout)
            raise SourceUnavailable(
                f"Orthanc at {source.base} broke off its answer: {type(exc).__name__}"
            ) from None
        if reply.will_close:
            _drop(host, port, source.timeout)
        if reply.status == 200:
            return body
        if reply.status == 404:
            raise SourceMissing(f"the instance was deleted from Orthanc ({source.key})")
        if reply.status in (401, 403):
            raise SourceUnavailable(f"Orthanc refused the credentials (HTTP {reply.status})")
        raise SourceUnavailable(f"Orthanc answered HTTP {reply.status} for {source.path}")
    raise AssertionError("unreachable")


__all__ = ["HttpSource", "RenderSource", "fetch"]
