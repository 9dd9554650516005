"""A recording TCP proxy on a loopback port: what wadofarm really sends to Orthanc, byte for byte.

It runs its own event loop in a thread and forwards both ways unchanged; `requests()` lists the
HTTP requests parsed from the client-to-server bytes, in the order they were completed.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

from tests.support.tools import free_port


@dataclass(frozen=True)
class SeenRequest:
    method: str
    target: str
    headers: dict[str, str]  # lower-case names (the last of repeated ones)
    body: bytes
    header_lines: tuple[tuple[str, str], ...] = ()  # every header line, as sent

    def named(self, name: str) -> list[str]:
        """The values of every `name` header line, in order."""
        return [value for key, value in self.header_lines if key.lower() == name.lower()]


class Spy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._sent = 0
        self._seen: list[SeenRequest] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> Spy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._accept, "127.0.0.1", self.port), self._loop
        ).result(10)
        return self

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    @property
    def sent(self) -> int:
        """Bytes sent upstream so far."""
        with self._lock:
            return self._sent

    def requests(self) -> list[SeenRequest]:
        with self._lock:
            return list(self._seen)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        record = bytearray()
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            self._pipe(reader, up_writer, record), self._pipe(up_reader, writer, None)
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: bytearray | None
    ) -> None:
        try:
            while chunk := await reader.read(65536):
                if record is not None:
                    record += chunk
                    with self._lock:
                        self._sent += len(chunk)
                        self._seen += _take(record)
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


def _take(buffer: bytearray) -> list[SeenRequest]:
    """The complete requests at the start of `buffer`, removed from it."""
    found = []
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return found
        lines = buffer[:end].decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        pairs = tuple(
            (name.strip(), value.strip())
            for name, _, value in (line.partition(":") for line in lines[1:])
        )
        headers = {name.lower(): value for name, value in pairs}
        if "chunked" in headers.get("transfer-encoding", "").lower():
            complete = _dechunk(buffer, end + 4)
            if complete is None:
                return found
            body, stop = complete
        else:
            stop = end + 4 + int(headers.get("content-length", "0"))
            if len(buffer) < stop:
                return found
            body = bytes(buffer[end + 4 : stop])
        found.append(SeenRequest(method, target, headers, body, pairs))
        del buffer[:stop]


def _dechunk(buffer: bytearray, start: int) -> tuple[bytes, int] | None:
    """A chunked body (RFC 9112 7.1) from `start`, and where it ends; None while incomplete."""
    body = bytearray()
    at = start
    while True:
        line_end = buffer.find(b"\r\n", at)
        if line_end < 0:
            return None
        size = int(bytes(buffer[at:line_end]).split(b";")[0], 16)
        at = line_end + 2
        if size == 0:
            trailer_end = buffer.find(b"\r\n\r\n", at - 2)  # no trailers: the empty line
            return (bytes(body), trailer_end + 4) if trailer_end >= 0 else None
        if len(buffer) < at + size + 2:
            return None
        body += buffer[at : at + size]
        at += size + 2
