"""Messages between the router and a render worker, one socketpair per worker.

A job (router to worker) is small: a length-prefixed pickle of (job id, source, params). A reply
(worker to router) is framed raw, so that the router never unpickles, copies or hashes an image:
a fixed header (kind, job id, body length, the result's sizes and the ETag the worker computed)
and then the body, the encoded image as the encoder made it, received by the router straight
into one buffer of the right size (a BufferedProtocol) and kept as a read-only view of it. The
body of a presentation state's answer (ShowsImage) is the image's UID; an error's is the
pickled exception.

The worker side is blocking; the router side is an asyncio protocol, so the event loop never
blocks on a worker.
"""

from __future__ import annotations

import asyncio
import copyreg
import dataclasses
import operator
import pickle
import socket
import struct
from collections import deque
from typing import Any, cast

from renderer.formats import OutputFormat
from renderer.params import (
    Answer,
    HttpSource,
    PixelRegion,
    PresentationRef,
    Region,
    RenderParams,
    RenderResult,
    RenderSource,
    ShowsImage,
    Window,
    etag_for,
)

JOB = struct.Struct("!Q")  # the pickled job's length

READY, RESULT, ERROR, SHOWS = 0, 1, 2, 3  # reply kinds
# kind, job id, body length; then a result's output, width, height, stored rows and columns,
# frames, pixel aspect, ETag and whether it took the default window (zeros for the other kinds)
REPLY = struct.Struct("!BQQBIIIIId34s?")
ETAG_LENGTH = len(etag_for(b""))
OUTPUTS = tuple(OutputFormat)
_OUTPUT_INDEX = {output: index for index, output in enumerate(OUTPUTS)}

Job = tuple[int, RenderSource, RenderParams]
Reply = tuple[int, Answer | BaseException]  # job id, the answer or what went wrong


def _by_fields(cls: type[Any]) -> None:
    """Pickle a frozen dataclass as its class and its field values, rebuilt by the constructor:
    about half the cost of the default (a state list built through dataclasses.fields() and
    set back one field at a time)."""
    values = operator.attrgetter(*(field.name for field in dataclasses.fields(cls)))
    copyreg.pickle(cls, lambda obj: (cls, values(obj)))


for _message_class in (RenderParams, Window, Region, PixelRegion, HttpSource, PresentationRef):
    _by_fields(_message_class)


# The router's side.


def encode_job(job_id: int, source: RenderSource, params: RenderParams) -> bytes:
    body = pickle.dumps((job_id, source, params), protocol=5)
    return JOB.pack(len(body)) + body


class Channel(asyncio.BufferedProtocol):
    """The router's end of a worker's socketpair. Each reply's header is read into a small
    buffer of its own and its body straight into a bytearray of the announced length."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._header = bytearray(REPLY.size)
        self._target = self._header  # the buffer being filled
        self._filled = 0
        self._fields: tuple[Any, ...] = ()  # the header of the reply whose body is being read
        self._replies: deque[tuple[tuple[Any, ...], bytearray]] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._lost = False
        self._lost_with: Exception | None = None
        self._closed: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass of it
        self._closed = asyncio.get_running_loop().create_future()

    def get_buffer(self, sizehint: int) -> memoryview:
        return memoryview(self._target)[self._filled :]

    def buffer_updated(self, nbytes: int) -> None:
        self._filled += nbytes
        if self._filled < len(self._target):
            return
        if self._target is self._header:
            self._fields = REPLY.unpack(self._header)
            size = self._fields[2]
            self._filled = 0
            if size:
                self._target = bytearray(size)
                return
            body = bytearray()
        else:
            body, self._target, self._filled = self._target, self._header, 0
        self._replies.append((self._fields, body))
        self._wake()

    def eof_received(self) -> bool:
        return False  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._lost_with = exc
        self._wake()
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    @property
    def lost(self) -> bool:
        """Whether the socket has closed: the worker exited or was killed (its end closes with
        it), or close() was called."""
        return self._lost

    @property
    def unread(self) -> bool:
        """Whether the worker went without reading what was sent: it was dead before the send
        (EPIPE) or died with it still in its socket (ECONNRESET: a Unix socket closed with
        unread data), not after reading it (an end of file)."""
        return isinstance(self._lost_with, BrokenPipeError | ConnectionResetError)

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    async def wait_closed(self) -> None:
        """Until the socket is closed (after close(), or when the worker has gone)."""
        if self._closed is not None:
            await asyncio.shield(self._closed)

    async def _next(self) -> tuple[tuple[Any, ...], bytearray]:
        while not self._replies:
            if self._lost:
                raise ConnectionResetError("the render worker closed its socket")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._replies.popleft()

    async def ready(self) -> bool:
        """Whether the worker's first message says it is ready."""
        fields, _ = await self._next()
        return bool(fields[0] == READY)

    async def receive(self) -> Reply:
        """The next reply; ConnectionResetError when the worker has gone."""
        fields, body = await self._next()
        kind, job_id, _, output, width, height, rows, columns, frames, aspect, etag, default = (
            fields
        )
        if kind == RESULT:
            result = RenderResult(
                data=memoryview(body).toreadonly(),
                output=OUTPUTS[output],
                width=width,
                height=height,
                stored_rows=rows,
                stored_columns=columns,
                frames=frames,
                pixel_aspect=aspect,
                etag=etag.decode("ascii"),
                default_window=default,
            )
            return job_id, result
        if kind == SHOWS:
            return job_id, ShowsImage(body.decode("ascii"))
        if kind == ERROR:
            error = pickle.loads(body)
            if isinstance(error, BaseException):
                return job_id, error
        raise ConnectionResetError(f"the render worker sent a reply of unknown kind {kind}")


# The worker's side.


def _recv_exactly(sock: socket.socket, size: int) -> bytearray | None:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:])
        if n == 0:
            return None
        got += n
    return buffer


def recv_job(sock: socket.socket) -> Job | None:
    """The next job, or None when the router has gone."""
    header = _recv_exactly(sock, JOB.size)
    if header is None:
        return None
    (size,) = JOB.unpack(header)
    body = _recv_exactly(sock, size)
    if body is None:
        return None
    job: Job = pickle.loads(body)
    return job


def _send(sock: socket.socket, header: bytes, body: bytes | memoryview) -> None:
    """Header and body in one sendmsg where the socket takes them, without joining them."""
    parts = [memoryview(header), memoryview(body).cast("B")]
    while parts:
        sent = sock.sendmsg(parts)
        while parts and sent >= len(parts[0]):
            sent -= len(parts[0])
            parts.pop(0)
        if parts:
            parts[0] = parts[0][sent:]


def send_ready(sock: socket.socket) -> None:
    _send(sock, REPLY.pack(READY, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, b"", False), b"")


def send_result(sock: socket.socket, job_id: int, result: RenderResult) -> None:
    data = result.data
    etag = result.etag.encode("ascii")
    if len(etag) != ETAG_LENGTH:
        raise ValueError(f"not an ETag of etag_for: {result.etag!r}")
    header = REPLY.pack(
        RESULT,
        job_id,
        len(data),
        _OUTPUT_INDEX[result.output],
        result.width,
        result.height,
        result.stored_rows,
        result.stored_columns,
        result.frames,
        result.pixel_aspect,
        etag,
        result.default_window,
    )
    _send(sock, header, data)


def send_shows(sock: socket.socket, job_id: int, answer: ShowsImage) -> None:
    body = answer.image_uid.encode("ascii")
    _send(sock, REPLY.pack(SHOWS, job_id, len(body), 0, 0, 0, 0, 0, 0, 0.0, b"", False), body)


def send_error(sock: socket.socket, job_id: int, error: BaseException) -> None:
    body = pickle.dumps(error, protocol=5)
    _send(sock, REPLY.pack(ERROR, job_id, len(body), 0, 0, 0, 0, 0, 0, 0.0, b"", False), body)
