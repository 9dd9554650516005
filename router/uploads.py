"""Request bodies on their way through the pass-through, read so that a slow client holds a
wadofarm connection and never one of Orthanc's threads (issue 25: 60 clients sending a byte
every two seconds held all 50 of Orthanc's HTTP threads, and Orthanc answered no one).

- The first HEAD_START bytes (or the whole body, when shorter: nearly every request) are read
  before Orthanc is asked anything, so a body that never arrives never reaches it.
- All the way, the body must keep up with --upload-min-rate, averaged from its start after a
  head start of --upload-timeout, and may never pause longer than --upload-timeout. A client
  that falls behind gets 408 (and its connection closed) if Orthanc has not been asked yet;
  otherwise the upstream request is cut short, which frees Orthanc's thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass

from aiohttp import web

from router.errors import RequestTimeout

HEAD_START = 1 << 20  # bytes read before Orthanc is asked anything
CHUNK = 64 * 1024


class TooSlow(Exception):
    """The client fell behind the rate floor after the body's start was sent on."""


@dataclass(frozen=True, slots=True)
class Pace:
    timeout: float  # seconds: the longest pause, and the head start of the rate floor
    min_rate: float  # bytes a second, averaged from the body's start

    def deadline(self, started: float, received: int) -> float:
        """When the next byte must have come."""
        return started + self.timeout + (received + 1) / self.min_rate


class Upload:
    """One request's body, read at the client's pace within `pace`."""

    def __init__(self, request: web.Request, pace: Pace) -> None:
        self._content = request.content
        self._pace = pace
        self._started = time.monotonic()
        self._received = 0
        self.first: bytes = b""  # what was read before Orthanc was asked
        self.whole = False  # whether `first` is all of it
        self.fell_behind: str | None = None  # why the rest was cut short, if it was

    async def _read(self) -> bytes:
        """The next piece of the body (b"" at its end), or RequestTimeout when the client falls
        behind."""
        now = time.monotonic()
        wait = min(self._pace.timeout, self._pace.deadline(self._started, self._received) - now)
        try:
            chunk = await _within(wait, self._content.readany())
        except TimeoutError:
            raise RequestTimeout(
                f"the request body came too slowly: {self._received} bytes in "
                f"{now - self._started:.0f}s (--upload-min-rate, --upload-timeout)",
                close=True,
            ) from None
        self._received += len(chunk)
        return chunk

    async def start(self) -> None:
        """Read the body's start (see the module docstring)."""
        pieces: list[bytes] = []
        size = 0
        while size < HEAD_START:
            chunk = await self._read()
            if not chunk:
                self.whole = True
                break
            pieces.append(chunk)
            size += len(chunk)
        self.first = b"".join(pieces)

    async def rest(self) -> AsyncIterator[bytes]:
        """The body from its start on, for an upload bigger than the head start."""
        yield self.first
        while True:
            try:
                chunk = await self._read()
            except RequestTimeout as slow:
                self.fell_behind = slow.detail
                raise TooSlow(slow.detail) from None
            if not chunk:
                return
            yield chunk


async def _within(seconds: float, step: Awaitable[bytes]) -> bytes:
    async with asyncio.timeout(max(seconds, 0.0)):
        return await step


__all__ = ["HEAD_START", "Pace", "TooSlow", "Upload"]
