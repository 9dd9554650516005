"""The floors a router's CPU is judged against, measured in the same run: the least an aiohttp +
uvloop process can spend on a request (a handler that answers a cached 3 KB body: what a render-
cache hit would cost with no code of wadofarm's), and that plus one round trip to a child
process over a socketpair (what a render costs the router with nothing but the hop to a worker).

    python -m bench.floor --port N [--hop]

Each process names itself as wadofarm's do ("wadofarm: router floor", "wadofarm: render
floor"), so the bench's CPU meter counts them by role.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import struct

import uvloop
from aiohttp import web
from setproctitle import setproctitle

BODY = b"\xff" * 3200  # about a 128x128 thumbnail
HEADER = struct.Struct("!I")


def _worker(sock: socket.socket) -> None:
    """Answer every job (any bytes) with the body, length-prefixed, until the router closes."""
    setproctitle("wadofarm: render floor")
    reply = HEADER.pack(len(BODY)) + BODY
    while sock.recv(4096):
        sock.sendall(reply)
    os._exit(0)


class _Channel(asyncio.Protocol):
    """The router's end: one job in flight, its reply read whole."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[bytes] | None = None
        self.lock = asyncio.Lock()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) < HEADER.size:
            return
        (size,) = HEADER.unpack_from(self.buffer)
        if len(self.buffer) >= HEADER.size + size and self.waiter is not None:
            body = bytes(self.buffer[HEADER.size : HEADER.size + size])
            del self.buffer[: HEADER.size + size]
            self.waiter.set_result(body)

    async def ask(self) -> bytes:
        assert self.transport is not None
        async with self.lock:
            self.waiter = asyncio.get_running_loop().create_future()
            self.transport.write(b"render this")
            return await self.waiter


def app(hop: socket.socket | None) -> web.Application:
    application = web.Application()
    headers = {"Content-Type": "image/jpeg", "ETag": '"floor"'}
    channel = _Channel()

    async def cached(request: web.Request) -> web.Response:
        return web.Response(body=BODY, headers=headers)

    async def rendered(request: web.Request) -> web.Response:
        return web.Response(body=await channel.ask(), headers=headers)

    async def connect(application: web.Application) -> None:
        assert hop is not None
        await asyncio.get_running_loop().create_unix_connection(lambda: channel, sock=hop)

    if hop is not None:
        application.on_startup.append(connect)
    application.router.add_get("/wado", rendered if hop is not None else cached)
    return application


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hop", action="store_true", help="one worker round trip per request")
    args = parser.parse_args()
    hop = None
    if args.hop:
        ours, theirs = socket.socketpair()
        if os.fork() == 0:
            ours.close()
            _worker(theirs)
        theirs.close()
        hop = ours
    setproctitle("wadofarm: router floor")
    web.run_app(
        app(hop),
        host="127.0.0.1",
        port=args.port,
        access_log=None,
        loop=uvloop.new_event_loop(),
        print=None,
    )


if __name__ == "__main__":
    main()
