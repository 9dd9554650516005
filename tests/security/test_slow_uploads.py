"""Slow uploads do not hold Orthanc (issue 25: 60 authenticated clients sending a byte every two
seconds held all 50 of Orthanc's HTTP threads, and its own /system stopped answering). A body
is read before Orthanc is asked anything, within --upload-min-rate and --upload-timeout, so the
slow clients hold wadofarm connections only: Orthanc's /system, through wadofarm and directly,
answers in under a second throughout, and each slow client gets 408."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from tests.support.http import get
from tests.support.orthanc import Orthanc
from tests.support.server import Wadofarm

CLIENTS = 60
TOKEN = "tok-uploader-3c1"
UPLOAD_TIMEOUT = 3.0


def slow_upload(port: int, answers: list[bytes], stop: threading.Event) -> None:
    """POST /instances with a 100 KB body, sent one byte every 2 s."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
        conn.sendall(
            (
                "POST /instances HTTP/1.1\r\nHost: x\r\nContent-Type: application/dicom\r\n"
                f"Authorization: Bearer {TOKEN}\r\nContent-Length: 100000\r\n\r\n"
            ).encode()
        )
        answer = b""
        conn.setblocking(False)
        while not stop.is_set():
            try:
                conn.send(b"x")
            except OSError:
                break
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline and not stop.is_set():
                try:
                    chunk = conn.recv(65536)
                except BlockingIOError:
                    time.sleep(0.05)
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    answers.append(answer)
                    return
                answer += chunk
        answers.append(answer)


def test_slow_uploads_hold_no_orthanc_thread(tmp_path: Path) -> None:
    orthanc = Orthanc(tmp_path / "orthanc").start()
    tokens = tmp_path / "tokens"
    tokens.write_text(TOKEN + "\n")
    args = ["--orthanc", orthanc.url, "--workers", "1", "--auth", "bearer"]
    args += ["--auth-tokens", str(tokens), "--upload-timeout", str(UPLOAD_TIMEOUT)]
    server = Wadofarm(args, tmp_path / "w.log").start()
    answers: list[bytes] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=slow_upload, args=(server.port, answers, stop), daemon=True)
        for _ in range(CLIENTS)
    ]
    try:
        for thread in threads:
            thread.start()
        slowest = 0.0
        watch_until = time.monotonic() + 2 * UPLOAD_TIMEOUT + 2
        while time.monotonic() < watch_until:
            for url, headers in (
                (orthanc.url + "/system", {}),
                (server.url + "/system", {"Authorization": f"Bearer {TOKEN}"}),
            ):
                started = time.monotonic()
                reply = get(url, headers=headers, timeout=5)
                took = time.monotonic() - started
                assert reply.status == 200, (url, reply.status)
                slowest = max(slowest, took)
            time.sleep(0.2)
        assert slowest < 1.0, slowest  # Orthanc timed out for the whole run before
        stop.set()
        for thread in threads:
            thread.join(10)
        assert len(answers) == CLIENTS
        refused = [a for a in answers if a.startswith(b"HTTP/1.1 408 ")]
        assert len(refused) == CLIENTS, [a[:60] for a in answers if a not in refused][:3]
        assert b"--upload-min-rate" in refused[0]
    finally:
        stop.set()
        server.stop()
        orthanc.stop()
