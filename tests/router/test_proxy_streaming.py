"""The pass-through streams both ways: the first bytes of a slow answer reach the client while
the upstream is still sending, and the first bytes of a slow upload past its first MiB reach
the upstream while the client is still sending. The upstream here is a small real HTTP server
on loopback that sends and reads slowly on purpose (Orthanc cannot be made to trickle)."""

from __future__ import annotations

import asyncio
import http.client
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.support.server import Wadofarm
from tests.support.tools import free_port

CHUNKS = 5
GAP = 0.3  # seconds between chunks, each way
CHUNK = b"x" * 65536


class SlowUpstream:
    def __init__(self) -> None:
        self.port = free_port()
        self.first_upload_chunk: float | None = None
        self.uploaded = 0
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    async def download(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(CHUNKS):
            await response.write(CHUNK)
            await asyncio.sleep(GAP)
        await response.write_eof()
        return response

    async def upload(self, request: web.Request) -> web.Response:
        async for chunk in request.content.iter_any():
            if self.first_upload_chunk is None:
                self.first_upload_chunk = time.monotonic()
            self.uploaded += len(chunk)
        return web.Response(text=str(self.uploaded))

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/slow", self.download)
        app.router.add_post("/sink", self.upload)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def start(self) -> SlowUpstream:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SlowUpstream, Wadofarm]]:
    upstream = SlowUpstream().start()
    log: Path = tmp_path_factory.mktemp("wadofarm-slow") / "wadofarm.log"
    server = Wadofarm(
        [
            *("--orthanc", f"http://127.0.0.1:{upstream.port}", "--workers", "1"),
            *("--proxy-writes", "--upload-timeout", "2"),
        ],
        log,
    ).start()
    yield upstream, server
    server.stop()
    upstream.stop()


def test_answers_stream_to_the_client(proxied) -> None:  # type: ignore[no-untyped-def]
    _, server = proxied
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    started = time.monotonic()
    conn.request("GET", "/slow")
    response = conn.getresponse()
    first = response.read1(65536)
    first_at = time.monotonic() - started
    rest = response.read()
    total = time.monotonic() - started
    conn.close()
    assert response.status == 200
    assert len(first) + len(rest) == CHUNKS * len(CHUNK)
    assert total >= (CHUNKS - 1) * GAP
    assert first_at < total - 2 * GAP, (first_at, total)  # not held back until the end


BIG_CHUNK = b"y" * (512 * 1024)  # the first MiB is read before the upstream is asked


def test_uploads_stream_to_the_upstream(proxied) -> None:  # type: ignore[no-untyped-def]
    """Past the first MiB (router.uploads reads it before asking the upstream anything)."""
    upstream, server = proxied

    def body() -> Iterator[bytes]:
        for _ in range(CHUNKS):
            yield BIG_CHUNK
            time.sleep(GAP)

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("POST", "/sink", body=body(), encode_chunked=True)
    sent_at = time.monotonic()  # request() returns once the whole body is written
    response = conn.getresponse()
    answer = response.read()
    conn.close()
    assert response.status == 200 and int(answer) == CHUNKS * len(BIG_CHUNK)
    assert upstream.first_upload_chunk is not None
    assert upstream.first_upload_chunk < sent_at - 2 * GAP


def test_an_upload_that_stalls_after_its_start_is_cut_short(proxied) -> None:  # type: ignore[no-untyped-def]
    """Past the first MiB the body goes on to the upstream as it comes; when the client stops
    sending for --upload-timeout, the upstream request is cut short (freeing the upstream's
    thread) and the client gets 408."""
    upstream, server = proxied
    before = upstream.uploaded
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
        conn.sendall(
            b"POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: 4000000\r\n\r\n" + BIG_CHUNK * 3
        )
        started = time.monotonic()
        answer = conn.recv(65536)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:80]
    assert 2.0 <= waited < 10
    assert upstream.uploaded - before < 4_000_000  # the upstream never got a whole body
