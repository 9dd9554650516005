"""A 300 MB object downloaded whole (contentType=application/dicom) by 8 clients at once, from
each store: the router streams it, so its memory stays flat instead of holding a copy per
client."""

from __future__ import annotations

import copy
import http.client
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from tests.support import badfiles, corpus, procs
from tests.support.orthanc import Orthanc
from tests.support.server import Wadofarm

FRAMES = 600  # x 512 x 512 x 2 bytes: 300 MiB of pixel data
CLIENTS = 8
SLACK = 20 * 2**20  # bytes of router RSS the downloads may add
UID = corpus.derived_uid("big_download", "instance")


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ds = copy.deepcopy(badfiles.ct())
    ds.Rows, ds.Columns, ds.NumberOfFrames = 512, 512, FRAMES
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = UID
    ds.SeriesInstanceUID = corpus.derived_uid("big_download", "series")
    ds.StudyInstanceUID = corpus.derived_uid("big_download", "study")
    ds.PixelData = bytes(512 * 512 * 2 * FRAMES)
    path = tmp_path_factory.mktemp("big") / "big.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory, big_file: Path) -> Iterator[Orthanc]:
    server = Orthanc(tmp_path_factory.mktemp("orthanc")).start()
    try:
        assert server.upload(big_file)["HttpStatus"] == 200
        yield server
    finally:
        server.stop()


def download(url: str) -> int:
    """GET `url`, reading (and dropping) the body a MiB at a time; the number of bytes."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        conn.request("GET", f"{parts.path}?{parts.query}")
        reply = conn.getresponse()
        assert reply.status == 200, reply.read()[:300]
        assert reply.getheader("Content-Type") == "application/dicom"
        total = 0
        while chunk := reply.read(2**20):
            total += len(chunk)
        return total
    finally:
        conn.close()


@pytest.mark.parametrize("store", ["folder", "orthanc"])
def test_eight_clients_download_300_mb_with_flat_router_memory(
    store: str, big_file: Path, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if store == "folder":
        source = ["--dicom-dir", str(big_file.parent)]
    else:
        source = ["--orthanc", request.getfixturevalue("orthanc").url]
    # Orthanc reads a whole file before its first byte: seconds for 300 MB on a busy machine.
    flags = [*source, "--workers", "1", "--no-access-log", "--upstream-timeout", "60"]
    server = Wadofarm(flags, tmp_path / "w.log").start()
    try:
        query = urlencode(
            {"requestType": "WADO", "objectUID": UID, "contentType": "application/dicom"}
        )
        url = f"{server.url}/wado?{query}"
        size = big_file.stat().st_size
        assert download(url) == size  # warm: the code paths, the connection pools
        router = procs.router(server.pid)
        baseline = procs.rss_bytes(router)
        peak = baseline
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, procs.rss_bytes(router))
                time.sleep(0.01)

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.monotonic()
        try:
            with ThreadPoolExecutor(CLIENTS) as pool:
                sizes = list(pool.map(download, [url] * CLIENTS))
        finally:
            done.set()
            sampler.join()
        elapsed = time.monotonic() - started
        grew = peak - baseline
        print(
            f"{store}: {CLIENTS} x {size / 2**20:.0f} MiB in {elapsed:.1f}s, router RSS "
            f"{baseline / 2**20:.0f} MiB, peak +{grew / 2**20:.1f} MiB"
        )
        assert sizes == [size] * CLIENTS
        assert grew <= SLACK
    finally:
        server.stop()
