"""Clients that never read (issue 25): 60 of them asking an animated GIF of a 2,000-frame
object took the router from 89 MB to 1.2 GB, each holding a copy, for ever. Now the body goes
out a chunk at a time from one buffer, each stalled connection is closed --send-timeout after
it stopped taking bytes, and past --send-buffer-mb a new large answer is a 503."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from tests.support.http import get
from tests.support.server import Wadofarm

FRAMES, SIDE = 2000, 96  # a GIF of about 25 MB
CLIENTS = 60
SEND_TIMEOUT = 3.0


def cine(path: Path) -> str:
    """A 2,000-frame 8-bit object of noise (which GIF cannot shrink); its SOP Instance UID."""
    ds = Dataset()
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID = (
        generate_uid() for _ in range(3)
    )
    ds.Modality, ds.Rows, ds.Columns, ds.NumberOfFrames = "OT", SIDE, SIDE, FRAMES
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    noise = np.random.default_rng(25).integers(0, 256, (FRAMES, SIDE, SIDE), dtype=np.uint8)
    ds.PixelData = noise.tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True)
    return str(ds.SOPInstanceUID)


@pytest.fixture(scope="module")
def stalling(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Wadofarm, str]]:
    base = tmp_path_factory.mktemp("slow-clients")
    (base / "dicom").mkdir()
    uid = cine(base / "dicom" / "cine.dcm")
    args = ["--dicom-dir", str(base / "dicom"), "--workers", "1", "--render-timeout", "120"]
    args += ["--send-timeout", str(SEND_TIMEOUT), "--send-buffer-mb", "40"]
    server = Wadofarm(args, base / "w.log").start()
    yield server, uid
    server.stop()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def established(port: int) -> int:
    """Connections the server holds on `port` (its side, from /proc/net/tcp)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if int(local.split(":")[1], 16) == port and state == "01":
            count += 1
    return count


def stalled_client(port: int, target: str) -> socket.socket:
    """A client that asks and then never reads (a small receive buffer, as a phone's)."""
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.connect(("127.0.0.1", port))
    client.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return client


def metric(server: Wadofarm, name: str) -> float:
    for line in get(server.url + "/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_clients_that_never_read_cost_the_router_little_and_are_cut_off(
    stalling: tuple[Wadofarm, str],
) -> None:
    server, uid = stalling
    target = f"/wado?requestType=WADO&objectUID={uid}&contentType=image/gif"
    before = rss_mb(server.pid)
    started = time.monotonic()
    clients = [stalled_client(server.port, target) for _ in range(CLIENTS)]
    try:
        peak, deadline = before, started + 90
        while time.monotonic() < deadline:
            peak = max(peak, rss_mb(server.pid))
            if metric(server, "wadofarm_send_stalled_total") >= CLIENTS:
                break
            time.sleep(0.2)
        cut_at = time.monotonic() - started
        assert metric(server, "wadofarm_send_stalled_total") == CLIENTS
        assert peak - before < 100, (before, peak)  # was 1,155 MB more
        assert cut_at >= SEND_TIMEOUT  # not before the time-out
        time.sleep(0.5)
        assert established(server.port) == 0
        for client in clients:  # each got the start of the GIF, then was cut off
            client.settimeout(5)
            received = b""
            try:
                while chunk := client.recv(1 << 20):
                    received += chunk
            except ConnectionResetError:
                pass
            assert received.startswith(b"HTTP/1.1 200 ") and len(received) < 25 * 2**20
    finally:
        for client in clients:
            client.close()
    assert metric(server, "wadofarm_send_held_bytes") == 0
    assert get(server.url + "/wado", params={"requestType": "WADO", "objectUID": uid}).status == 200


def test_past_the_send_buffer_a_new_large_answer_is_a_503(stalling: tuple[Wadofarm, str]) -> None:
    """Two slow clients on two different GIFs (25 MB each) under --send-buffer-mb 40: the
    second cannot be held and is refused; once the first is gone, it can. The first reads slowly
    but steadily (16 KiB every 0.05 s, with a socket buffer of the usual size: a tiny one makes
    the kernel's zero-window probes back off for seconds), so the 3 s send time-out does not
    cut it off while the second GIF renders, which takes longer on a loaded machine."""
    server, uid = stalling
    target = f"/wado?requestType=WADO&objectUID={uid}&contentType=image/gif"
    first = socket.create_connection(("127.0.0.1", server.port))
    first.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    done = threading.Event()

    def sip() -> None:  # about 320 KB/s: a minute or more for 25 MB
        while not done.wait(0.05):
            try:
                first.recv(16384)
            except OSError:
                return

    sipper = threading.Thread(target=sip, daemon=True)
    sipper.start()
    try:
        deadline = time.monotonic() + 60
        while metric(server, "wadofarm_send_held_bytes") == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        other = get(server.url + target + "&rows=95")  # another body, rendered anew
        assert other.status == 503 and "--send-buffer-mb" in other.text, other.status
        assert other.headers.get("retry-after") == "1"
    finally:
        done.set()
        sipper.join()
        first.close()
    deadline = time.monotonic() + SEND_TIMEOUT + 10
    while metric(server, "wadofarm_send_held_bytes") > 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert get(server.url + target + "&rows=95").status == 200
