"""Slow loris: connections that send their request head a byte at a time are closed once
--idle-timeout has passed since they opened, while the server keeps answering others."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from tests.support.http import get
from tests.support.server import Wadofarm

CONNECTIONS = 50
TIMEOUT = 2.0


def test_slow_request_heads_are_cut_off(tmp_path: Path) -> None:
    flags = ["--workers", "1", "--idle-timeout", str(TIMEOUT)]
    server = Wadofarm(flags, tmp_path / "w.log").start()
    slow: list[socket.socket] = []
    try:
        for _ in range(CONNECTIONS):
            conn = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            conn.sendall(b"GET /healthz HTTP/1.1\r\n")
            slow.append(conn)
        opened = time.monotonic()
        closed: dict[int, float] = {}
        while len(closed) < CONNECTIONS and time.monotonic() - opened < 4 * TIMEOUT:
            for index, conn in enumerate(slow):
                if index in closed:
                    continue
                try:
                    conn.sendall(b"X-Slow: a\r\n")  # never the blank line that ends the head
                    conn.setblocking(False)
                    try:
                        if conn.recv(1024) == b"":
                            closed[index] = time.monotonic() - opened
                    except BlockingIOError:
                        pass
                    finally:
                        conn.setblocking(True)
                except OSError:  # reset: closed by the server
                    closed[index] = time.monotonic() - opened
            assert get(server.url + "/healthz").status == 200  # others are served meanwhile
            time.sleep(0.2)
        assert len(closed) == CONNECTIONS, f"{CONNECTIONS - len(closed)} slow heads still open"
        latest = max(closed.values())
        print(f"{CONNECTIONS} slow heads closed within {latest:.1f}s (--idle-timeout {TIMEOUT:g})")
        assert min(closed.values()) >= TIMEOUT - 0.5 and latest < TIMEOUT + 2.0
    finally:
        for conn in slow:
            conn.close()
        server.stop()
