"""Length-prefixed pickle messages between the router and a render worker.

One socketpair per worker: the worker side is blocking, the router side is an asyncio stream,
so the event loop never blocks on a worker. Protocol 5 keeps large `bytes` payloads to one copy.
"""

from __future__ import annotations

import asyncio
import copyreg
import dataclasses
import operator
import pickle
import socket
import struct
from typing import Any

from renderer.fetch import HttpSource
from renderer.params import (
    PresentationRef,
    Region,
    RenderParams,
    RenderResult,
    SourceBox,
    Window,
)

HEADER = struct.Struct("!Q")


def _by_fields(cls: type[Any]) -> None:
    """Pickle a frozen dataclass as its class and its field values, rebuilt by the constructor:
    about half the cost of the default (a state list built through dataclasses.fields() and
    set back one field at a time), paid twice per render on each side of the socketpair."""
    values = operator.attrgetter(*(field.name for field in dataclasses.fields(cls)))
    copyreg.pickle(cls, lambda obj: (cls, values(obj)))


for _message_class in (
    RenderParams,
    Window,
    Region,
    SourceBox,
    RenderResult,
    HttpSource,
    PresentationRef,
):
    _by_fields(_message_class)


def encode(message: Any) -> bytes:
    body = pickle.dumps(message, protocol=5)
    return HEADER.pack(len(body)) + body


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


def recv_blocking(sock: socket.socket) -> Any:
    """The next message, or None when the other side has gone."""
    header = _recv_exactly(sock, HEADER.size)
    if header is None:
        return None
    (size,) = HEADER.unpack(header)
    body = _recv_exactly(sock, size)
    if body is None:
        return None
    return pickle.loads(body)


def send_blocking(sock: socket.socket, message: Any) -> None:
    sock.sendall(encode(message))


async def recv(reader: asyncio.StreamReader) -> Any:
    """The next message; raises asyncio.IncompleteReadError when the worker has gone."""
    header = await reader.readexactly(HEADER.size)
    (size,) = HEADER.unpack(header)
    return pickle.loads(await reader.readexactly(size))
