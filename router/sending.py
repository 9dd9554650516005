"""Answers to clients that read slowly or not at all, without the router hoarding memory for
them (issue 25: 60 clients that never read a 25 MB GIF took the router from 90 MB to 1.6 GB,
each with a copy of it in its transport's buffer).

- A large body (over LARGE bytes) goes out a chunk at a time, each write waiting until the
  client's socket has taken the previous ones (aiohttp's drain): a stalled client holds a
  transport buffer's worth of the body (~128 KiB), never a copy of all of it. One body shared
  by many answers (the render cache's, or one render coalesced for many clients) is sent from
  the one buffer.
- A client that takes nothing for --send-timeout seconds while a body waits to go is cut off:
  its connection is closed and what the answer held is freed.
- The bodies being sent are counted, each distinct body once, however many clients it goes to:
  past --send-buffer-mb a new large answer is a 503 (Retry-After) rather than more memory, so a
  crowd of slow clients asking for different large answers cannot make the router hoard them.
  (The renders in flight, at most one per worker, and the render cache are bounded apart.)

Bodies the router streams from elsewhere (the pass-through's answers, stored files) are read
as the client takes them and use `write` for the same time-out.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import struct
import termios
from collections.abc import Awaitable

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter

from renderer.params import Encoded
from router.errors import Overloaded

logger = logging.getLogger(__name__)

LARGE = 256 * 1024  # bytes: larger bodies are written a chunk at a time
CHUNK = 64 * 1024  # bytes written at a time (aiohttp drains past 64 KiB written)


class ClientStalled(ConnectionResetError):
    """The client took nothing for --send-timeout: its connection is closed. A
    ConnectionResetError, which aiohttp takes for a client gone (no error logged)."""


class Sending:
    def __init__(self, timeout: float, budget_bytes: int) -> None:
        self.timeout = timeout
        self.budget_bytes = budget_bytes
        self._held: dict[int, tuple[int, int]] = {}  # id(body) -> (answers sending it, size)
        self.held_bytes = 0
        self.stalled = 0  # connections cut off (for /metrics)
        self.refused = 0  # answers refused for want of room (for /metrics)

    def hold(self, body: Encoded) -> None:
        """Count `body` as being sent (once however many answers send it); Overloaded when it
        does not fit in what is left, unless nothing else is held."""
        key = id(body)
        count, size = self._held.get(key, (0, len(body)))
        if count == 0:
            if self.held_bytes and self.held_bytes + size > self.budget_bytes:
                self.refused += 1
                raise Overloaded(
                    f"answers waiting for slow clients hold {self.held_bytes >> 20} MiB "
                    f"(--send-buffer-mb {self.budget_bytes >> 20}); try again shortly"
                )
            self.held_bytes += size
        self._held[key] = (count + 1, size)

    def release(self, body: Encoded) -> None:
        key = id(body)
        count, size = self._held.pop(key)
        if count > 1:
            self._held[key] = (count - 1, size)
        else:
            self.held_bytes -= size

    async def write(
        self, request: web.Request, response: web.StreamResponse, chunk: bytes | memoryview
    ) -> None:
        """`response.write(chunk)`, but a client that takes nothing for the send time-out is
        cut off (ClientStalled)."""
        await self.in_time(request, response.write(chunk))

    async def in_time(self, request: web.Request, step: Awaitable[None]) -> None:
        """Await `step` (a write and its drain) while the client keeps taking bytes: after each
        --send-timeout without it done, what waits to reach the client (the transport's buffer
        and the kernel's send queue) must have shrunk. Waiting for the socket to be writable
        alone would cut off a client that reads slowly but steadily: the kernel wakes a writer
        only once a third of a send buffer of megabytes is free."""
        task = asyncio.ensure_future(step)
        try:
            waiting = _waiting(request)
            while True:
                done, _ = await asyncio.wait((task,), timeout=self.timeout)
                if done:
                    return task.result()
                now = _waiting(request)
                if now is None or waiting is None or now >= waiting:
                    break  # nothing taken for a whole time-out
                waiting = now
        except BaseException:  # cancelled, say: the write goes with it
            task.cancel()
            raise
        self.stalled += 1
        logger.info(
            "%s %s: the client took nothing for %gs (--send-timeout); closing it",
            request.method,
            request.path,
            self.timeout,
        )
        if request.transport is not None:
            request.transport.abort()  # drop what is buffered for it, now
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await task
        raise ClientStalled("the client stopped reading")


def _waiting(request: web.Request) -> int | None:
    """Bytes written for the client that it has not taken yet: the transport's buffer and the
    kernel's send queue (SIOCOUTQ: sent but not acknowledged, or not sent). None: unknown."""
    transport = request.transport
    if transport is None:
        return None
    sock = transport.get_extra_info("socket")
    try:
        queued = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]
    except (AttributeError, OSError, ValueError):
        return None
    return int(transport.get_write_buffer_size()) + int(queued)


class LargeBody(web.StreamResponse):
    """A response whose body is written a chunk at a time when aiohttp finishes it (so that a
    handler returns it like a web.Response and sets its headers first), counted in `sending`
    from its creation until it is sent or abandoned. Create it only where it is returned."""

    def __init__(
        self,
        body: Encoded,
        sending: Sending,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status=status, headers=headers)
        self._whole = body
        self._sending = sending
        self._client: web.Request | None = None
        self.content_length = len(body)
        sending.hold(body)
        self._held = True

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        assert isinstance(request, web.Request)
        self._client = request
        return await super().prepare(request)

    async def write_eof(self, data: bytes = b"") -> None:
        try:
            request = self._client
            if request is None:  # never prepared: nothing to send
                return
            if request.method != "HEAD":
                view = memoryview(self._whole).cast("B")
                for at in range(0, len(view), CHUNK):
                    await self._sending.write(request, self, view[at : at + CHUNK])
            await self._sending.in_time(request, super().write_eof(data))
        finally:
            self._release()

    def _release(self) -> None:
        if self._held:
            self._held = False
            self._sending.release(self._whole)

    def __del__(self) -> None:  # abandoned unsent (a middleware replaced it, say)
        if getattr(self, "_held", False):
            self._release()


def answer(
    body: Encoded,
    sending: Sending,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> web.StreamResponse:
    """A response with `body`: a plain one when small, a LargeBody when large."""
    if len(body) <= LARGE:
        return web.Response(body=body, status=status, headers=headers)
    return LargeBody(body, sending, status=status, headers=headers)


__all__ = ["LARGE", "ClientStalled", "LargeBody", "Sending", "answer"]
