"""A lean HTTP/1.1 keep-alive GET client on asyncio streams.

The load generator shares the two cores with the servers it measures, so it must cost as little
as possible per request: no header objects, no cookie jar, just the status line, the framing
headers and the body."""

from __future__ import annotations

import asyncio

LIMIT = 2**22  # longest header block


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.reconnects = 0

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self._reader, self._writer = await asyncio.open_connection(
            self.host, self.port, limit=LIMIT
        )
        return self._reader, self._writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def get(self, target: bytes) -> tuple[int, int]:
        """GET `target` (path and query); returns the status and the body's length. A connection
        the server closed while idle (Orthanc drops them after a second) is reopened once."""
        fresh = self._writer is None
        for attempt in (1, 2):
            if self._writer is None or self._reader is None:
                reader, writer = await self._open()
                if not fresh:
                    self.reconnects += 1
            else:
                reader, writer = self._reader, self._writer
            try:
                writer.write(b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                return await self._response(reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt == 2 or fresh:
                    raise
        raise AssertionError("unreachable")

    async def _response(self, reader: asyncio.StreamReader) -> tuple[int, int]:
        status, length, chunked, close = await read_head(reader)
        if chunked:
            size = await self._read_chunked(reader)
        elif length >= 0:
            await reader.readexactly(length)
            size = length
        else:  # no framing: the body ends with the connection
            size = len(await reader.read())
            close = True
        if close:
            self.close()
        return status, size

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> int:
        total = 0
        while True:
            line = await reader.readuntil(b"\r\n")
            size = int(line.split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers expected
                return total
            await reader.readexactly(size + 2)
            total += size


async def read_head(reader: asyncio.StreamReader) -> tuple[int, int, bool, bool]:
    """A response's status line and framing headers: the status, Content-Length (-1: none),
    whether the body is chunked and whether the server closes the connection after it."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = -1
    chunked = close = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            close = b"close" in value.lower()
    return status, length, chunked, close
