"""Messages between the router and a worker come back equal to what was sent, nested values
and errors included, through the compact encoding of the frozen dataclasses."""

from __future__ import annotations

import asyncio
import socket

from renderer import wire
from renderer.errors import SourceMissing
from renderer.fetch import HttpSource
from renderer.params import (
    DefaultWindow,
    OutputFormat,
    Region,
    RenderParams,
    RenderResult,
    SourceBox,
    VoiFunction,
    Window,
)

PARAMS = RenderParams(
    frame=2,
    output=OutputFormat.PNG,
    rows=128,
    columns=None,
    region=Region(0.1, 0.2, 0.9, 1.0),
    source=SourceBox(3, 4, -50, None),
    window=Window(40.0, 400.0, VoiFunction.SIGMOID),
    quality=75,
    animate=True,
    default_window=DefaultWindow.MINMAX,
    max_pixels=12345,
)
SOURCE = HttpSource("http://127.0.0.1:8042", "/instances/ab-cd/file", "ab-cd", 3.5, "Basic eA==")
RESULT = RenderResult(b"\xff\xd8" + bytes(3000), OutputFormat.JPEG, 128, 96, 512, 384, 1, 0.5)


def test_messages_survive_the_socketpair() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        for message in [(7, SOURCE, PARAMS), (7, b"DICM", RenderParams()), (8, True, RESULT)]:
            wire.send_blocking(ours, message)
            assert wire.recv_blocking(theirs) == message

        async def receive() -> object:
            reader, writer = await asyncio.open_unix_connection(sock=theirs)
            try:
                return await wire.recv(reader)
            finally:
                writer.close()

        failure = (9, False, SourceMissing("the instance was deleted"))
        wire.send_blocking(ours, failure)
        job_id, ok, error = asyncio.run(receive())  # type: ignore[misc]
        assert (job_id, ok, type(error), str(error)) == (9, False, SourceMissing, str(failure[2]))
