"""The render worker's HTTP/1.1 client. Workers fetch the stored file themselves (from
Orthanc's REST API), so a 512 KB DICOM file never passes through the router: no read into the
event loop, no pickling across the socketpair (~1.3 ms of the router's one core per request,
measured by bench/).

Hand-written because the well-kept clients cost several times its CPU on the one request it
makes: a GET of the bench's 525 KB CT slice from Orthanc on loopback (`python -m bench fetch`,
every client side by side in one run, three runs on 2 shared cores at load 5-7) took 0.20-0.23
ms of the worker's CPU here, 1.8-2.9x that with http.client, 2.6-2.9x with urllib3, 8.7-9.7x
with httpx and 9.7-10.8x with requests. It takes only what Orthanc sends: a status line, a few
headers and a Content-Length body.

Each worker keeps one keep-alive connection per server; Orthanc drops idle ones after a second,
so a request on a connection the server closed is sent again once on a fresh one (GET is
idempotent).
"""

from __future__ import annotations

import http.client
import logging
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from renderer.errors import RenderError, SourceMissing, SourceTimeout, SourceUnavailable
from renderer.params import HttpSource

logger = logging.getLogger(__name__)

STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class BrokenAnswer(Exception):
    """The server's answer was not the HTTP/1.1 this reader takes (or stopped halfway)."""


class _Connection:
    """One keep-alive HTTP/1.1 connection, for GETs answered with a Content-Length (Orthanc
    always states one). The status line and headers are read with a few readline() calls and
    the body with one read() straight into its bytes: http.client parses headers with the email
    package, a third of a cold thumbnail's fetch (measured, issue 11)."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")
        self.host = host if port == 80 else f"{host}:{port}"

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

    def get(
        self,
        target: str,
        headers: dict[str, str],
        check_size: Callable[[int], None] | None = None,
    ) -> tuple[int, bytes, bool]:
        """(status, body, whether the server closes the connection after it). `check_size`
        sees a 200's length before its body is read, and may refuse it (the connection is
        then left unread: the caller drops it)."""
        lines = [f"GET {target} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        status_line = self.reader.readline(MAX_LINE)
        if not status_line:
            raise http.client.RemoteDisconnected("closed without an answer")
        version, _, rest = status_line.partition(b" ")
        code = rest[:3]
        if not version.startswith(b"HTTP/1.") or not code.isdigit():
            raise BrokenAnswer(f"not an HTTP/1.x status line: {status_line[:40]!r}")
        length: int | None = None
        close = version == b"HTTP/1.0"
        for _ in range(MAX_HEADERS):
            line = self.reader.readline(MAX_LINE)
            if line in (b"\r\n", b"\n"):
                break
            if not line.endswith(b"\n"):
                raise BrokenAnswer("the headers stopped halfway")
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"connection":
                close = value.strip().lower() == b"close"
            elif name == b"transfer-encoding":
                raise BrokenAnswer(f"transfer-encoding {value.strip()!r} is not read here")
        else:
            raise BrokenAnswer("too many headers")
        if length is None:
            raise BrokenAnswer("no Content-Length")
        if check_size is not None and code == b"200":
            check_size(length)
        body = self.reader.read(length)
        if len(body) != length:
            raise BrokenAnswer(f"the body stopped after {len(body)} of {length} bytes")
        return int(code), body, close


MAX_LINE = 65536
MAX_HEADERS = 100
_connections: dict[tuple[str, int, float], _Connection] = {}


def _connection(host: str, port: int, timeout: float) -> _Connection:
    key = (host, port, timeout)
    conn = _connections.get(key)
    if conn is None:
        conn = _connections[key] = _Connection(host, port, timeout)
    return conn


def _drop(host: str, port: int, timeout: float) -> None:
    conn = _connections.pop((host, port, timeout), None)
    if conn is not None:
        conn.close()


def fetch(source: HttpSource, check_size: Callable[[int], None] | None = None) -> bytes:
    """The file's bytes; SourceMissing (404), SourceTimeout or SourceUnavailable otherwise.
    `check_size` sees the file's size before its bytes are read, and may refuse it."""
    parts = urlsplit(source.base)
    if parts.scheme != "http" or not parts.hostname:
        raise SourceUnavailable(f"cannot fetch from {source.base}: only http:// is supported")
    host, port = parts.hostname, parts.port or 80
    target = parts.path.rstrip("/") + source.path
    headers = {"Accept-Encoding": "identity"}  # Orthanc gzips otherwise (HttpCompressionEnabled)
    if source.authorization:
        headers["Authorization"] = source.authorization
    for attempt in (1, 2):
        try:
            conn = _connection(host, port, source.timeout)
            status, body, close = conn.get(target, headers, check_size)
        except RenderError:  # refused by check_size, the body unread
            _drop(host, port, source.timeout)
            raise
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
            reason = (exc.strerror or "no connection").lower()  # words, not a class name
            raise SourceUnavailable(f"Orthanc at {source.base} is unreachable: {reason}") from None
        except (BrokenAnswer, ValueError) as exc:  # e.g. Orthanc died halfway through the file
            _drop(host, port, source.timeout)
            raise SourceUnavailable(
                f"Orthanc at {source.base} broke off its answer: {exc}"
            ) from None
        if close:
            _drop(host, port, source.timeout)
        if status == 200:
            return body
        if status == 404:
            raise SourceMissing(f"the instance was deleted from Orthanc ({source.key})")
        if status in (401, 403):
            raise SourceUnavailable(f"Orthanc refused the credentials (HTTP {status})")
        raise SourceUnavailable(f"Orthanc answered HTTP {status} for {source.path}")
    raise AssertionError("unreachable")


__all__ = ["fetch"]
