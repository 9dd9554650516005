"""SIGTERM: stop accepting at once, finish the requests in flight, stop the workers, exit 0."""

from __future__ import annotations

import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.reliability.servers import SLOW, folder_server, wado
from tests.support import procs
from tests.support.http import get


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_sigterm_drains_in_flight_requests_and_stops_the_workers(
    tmp_path: Path, catalogue: dict[str, Path]
) -> None:
    server = folder_server(catalogue, tmp_path, "--workers", "1").start()
    process = server.process
    assert process is not None
    try:
        (worker,) = procs.wait_workers(server.pid, 1)
        with ThreadPoolExecutor(2) as pool:
            # one rendering, one waiting in the queue behind it
            flights = [
                pool.submit(
                    get,
                    server.url + "/wado",
                    params=wado(SLOW, contentType="image/png", windowCenter=c, windowWidth=2000),
                    timeout=30,
                )
                for c in (1000, 1001)
            ]
            procs.wait_busy(worker)
            process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            while accepts(server.port) and time.monotonic() - signalled < 5:
                time.sleep(0.01)
            closed_after = time.monotonic() - signalled
            replies = [f.result() for f in flights]
        code = process.wait(timeout=20)
        exited_after = time.monotonic() - signalled
    finally:
        server.stop()
    print(f"listening socket closed {closed_after * 1000:.0f} ms, exit {exited_after:.2f} s")
    assert closed_after < 1.0, "still accepting connections after SIGTERM"
    assert [r.status for r in replies] == [200, 200]
    assert all(r.body.startswith(b"\x89PNG") for r in replies)
    assert code == 0
    assert not procs.alive(worker), "a render worker outlived the server"
    assert "render pool stopped" in server.log_tail()
