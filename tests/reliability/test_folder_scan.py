"""The folder scan reads a bounded head of each file and stays stoppable: a 2 GB zero-filled
.dcm no longer keeps the server from listening for minutes, and SIGTERM during a long scan
stops the server within about a file's time."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from bench.procs import free_port, serve_command
from tests.support import badfiles
from tests.support.http import get
from tests.support.server import REPO, Wadofarm

UID = badfiles.GOOD_UID


def test_a_huge_zero_filled_file_does_not_hold_the_start(tmp_path: Path) -> None:
    folder = tmp_path / "dicom"
    folder.mkdir()
    (folder / "good.dcm").write_bytes(badfiles.good())
    with open(folder / "huge.dcm", "wb") as fh:
        fh.truncate(2 * 2**30)  # 2 GB of zeros (sparse: costs no disk)
    started = time.monotonic()
    server = Wadofarm(["--dicom-dir", str(folder), "--workers", "1"], tmp_path / "w.log")
    server.start()
    try:
        elapsed = time.monotonic() - started
        print(f"listening {elapsed:.1f}s after the start")
        assert elapsed < 30  # the spawn of a render worker included; minutes before
        reply = get(server.url + "/wado", params={"requestType": "WADO", "objectUID": UID})
        assert reply.status == 200
        assert "indexed 1 instances from 2 files" in server.log.read_text()
    finally:
        server.stop()


def test_sigterm_during_a_long_scan_stops_the_server(tmp_path: Path) -> None:
    """Files that look like bare datasets but hold zeros: each costs the scan its whole
    bounded head (0.07 to 1 s on this machine, by its load), 400 of them far longer than the
    wait allowed (with 40 a quiet machine once finished the scan first)."""
    folder = tmp_path / "dicom"
    folder.mkdir()
    for n in range(400):
        with open(folder / f"slow-{n:03d}.dcm", "wb") as fh:
            fh.write(b"\x08\x00\x00\x00")  # (0008,0000): a plausible first tag
            fh.truncate(64 * 2**20)
    log = tmp_path / "w.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            serve_command(free_port(), ["--dicom-dir", str(folder), "--workers", "1"]),
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        time.sleep(3.0)  # well into the scan
        assert process.poll() is None, log.read_text()
        os.kill(process.pid, signal.SIGTERM)
        sent = time.monotonic()
        process.wait(timeout=20)
        stopped = time.monotonic() - sent
        print(f"stopped {stopped:.1f}s after SIGTERM")
        assert stopped < 5.0
        assert "indexed" not in log.read_text()  # it did not finish the scan first
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
