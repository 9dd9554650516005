"""Messages between the router and a worker come back equal to what was sent: jobs (nested
frozen dataclasses, through their compact pickling), results (framed raw, the body received
into one buffer, whatever the size and however the socket splits it), a presentation state's
answer and errors."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from renderer.errors import SourceMissing
from renderer.formats import OutputFormat
from renderer.params import (
    DefaultWindow,
    HttpSource,
    PixelRegion,
    Region,
    RenderParams,
    RenderResult,
    ShowsImage,
    VoiFunction,
    Window,
    etag_for,
)
from renderer.process import wire

PARAMS = RenderParams(
    frame=2,
    output=OutputFormat.PNG,
    rows=128,
    columns=None,
    region=Region(0.1, 0.2, 0.9, 1.0),
    pixel_region=PixelRegion(3, 4, -50, None),
    window=Window(40.0, 400.0, VoiFunction.SIGMOID),
    quality=75,
    animate=True,
    default_window=DefaultWindow.MINMAX,
    max_pixels=12345,
)
SOURCE = HttpSource("http://127.0.0.1:8042", "/instances/ab-cd/file", "ab-cd", 3.5, "Basic eA==")


def result(data: bytes, output: OutputFormat = OutputFormat.JPEG) -> RenderResult:
    return RenderResult(data, output, 128, 96, 512, 384, 3, 0.5, etag_for(data), len(data) % 2 == 0)


def test_jobs_survive_the_socketpair() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        for job_id, source, params in [(7, SOURCE, PARAMS), (8, b"DICM", RenderParams())]:
            ours.sendall(wire.encode_job(job_id, source, params))
            assert wire.recv_job(theirs) == (job_id, source, params)
        ours.close()
        assert wire.recv_job(theirs) is None  # the router has gone


async def receive_all(sock: socket.socket, count: int) -> list[wire.Reply]:
    loop = asyncio.get_running_loop()
    transport, channel = await loop.create_unix_connection(wire.Channel, sock=sock)
    try:
        assert await channel.ready()
        return [await channel.receive() for _ in range(count)]
    finally:
        transport.close()


def test_replies_survive_the_socketpair_whatever_their_size() -> None:
    big = bytes(range(256)) * 20_000  # 5 MB: many partial sends and reads
    sent: list[tuple[int, RenderResult | ShowsImage | SourceMissing]] = [
        (1, result(b"\xff\xd8" + bytes(3000))),
        (2, result(b"", OutputFormat.PNG)),
        (3, SourceMissing("the instance was deleted")),
        (4, result(big, OutputFormat.GIF)),
        (5, ShowsImage("1.2.840.113619.2.55.3.604688119")),
        (6, result(b"x")),
    ]
    ours, theirs = socket.socketpair()

    def worker() -> None:
        with ours:
            wire.send_ready(ours)
            for job_id, value in sent:
                if isinstance(value, RenderResult):
                    wire.send_result(ours, job_id, value)
                elif isinstance(value, ShowsImage):
                    wire.send_shows(ours, job_id, value)
                else:
                    wire.send_error(ours, job_id, value)

    thread = threading.Thread(target=worker)
    thread.start()
    replies = asyncio.run(receive_all(theirs, len(sent)))
    thread.join()
    for (job_id, value), (got_id, got) in zip(sent, replies, strict=True):
        assert got_id == job_id
        if isinstance(value, RenderResult):
            assert got == value and bytes(got.data) == value.data  # type: ignore[union-attr]
            assert got.etag == etag_for(got.data)  # type: ignore[union-attr]
            assert got.data.readonly  # type: ignore[union-attr]
        elif isinstance(value, ShowsImage):
            assert got == value
        else:
            assert (type(got), str(got)) == (type(value), str(value))


def test_a_worker_that_goes_away_mid_reply_is_a_connection_error() -> None:
    ours, theirs = socket.socketpair()
    with ours:
        wire.send_ready(ours)
        whole = wire.REPLY.pack(
            wire.RESULT, 1, 1000, 0, 1, 1, 1, 1, 1, 1.0, etag_for(b"").encode(), True
        )
        ours.sendall(whole + bytes(10))  # the header promises 1000 bytes; 10 come
    with pytest.raises(ConnectionError):
        asyncio.run(receive_all(theirs, 1))
