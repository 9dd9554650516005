"""Workers fetch stored files from a real Orthanc: bytes as stored, a keep-alive connection that
survives Orthanc dropping it, and each failure named for the router to map."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

from renderer.errors import SourceMissing, SourceUnavailable
from renderer.files.http_client import fetch
from renderer.params import HttpSource, RenderParams
from renderer.pipeline import render
from tests.conftest import LoadedOrthanc
from tests.support.tools import free_port

CT = "CT_small.dcm"


def source(orthanc: LoadedOrthanc, name: str) -> HttpSource:
    orthanc_id = str(orthanc.uploads[name]["ID"])
    return HttpSource(orthanc.url, f"/instances/{orthanc_id}/file", key=orthanc_id, timeout=5)


def test_fetches_the_file_as_stored_and_reuses_the_connection(
    orthanc: LoadedOrthanc, catalogue: dict[str, Path]
) -> None:
    src = source(orthanc, CT)
    assert fetch(src) == catalogue[CT].read_bytes()
    time.sleep(1.3)  # Orthanc closes idle keep-alive connections after one second
    assert fetch(src) == catalogue[CT].read_bytes()
    assert render(src, RenderParams(rows=32)).height == 32


def test_missing_instance_and_unreachable_server(orthanc: LoadedOrthanc) -> None:
    with pytest.raises(SourceMissing):
        fetch(HttpSource(orthanc.url, "/instances/no-such-id/file", key="no-such-id"))
    with pytest.raises(SourceUnavailable, match="unreachable"):
        fetch(HttpSource(f"http://127.0.0.1:{free_port()}", "/instances/x/file", key="x"))
    with pytest.raises(SourceUnavailable, match="only http"):
        fetch(HttpSource("https://127.0.0.1:1", "/instances/x/file", key="x"))


def test_deleted_instance_is_404_through_wadofarm(
    orthanc: LoadedOrthanc, catalogue: dict[str, Path], tmp_path: Path
) -> None:
    from tests.support.http import get, request
    from tests.support.server import Wadofarm

    name = "CT_small.dcm"
    # Without the frame cache, which would re-render the instance without fetching it.
    args = ["--orthanc", orthanc.url, "--workers", "1", "--frame-cache-mb", "0"]
    server = Wadofarm(args, tmp_path / "w.log").start()
    try:
        uid = str(
            json.loads(
                get(orthanc.url + f"/instances/{orthanc.uploads[name]['ID']}/simplified-tags").body
            )["SOPInstanceUID"]
        )
        params = {"requestType": "WADO", "objectUID": uid}
        assert get(server.url + "/wado", params={**params, "rows": 20}).status == 200
        assert (
            request("DELETE", orthanc.url + f"/instances/{orthanc.uploads[name]['ID']}").status
            == 200
        )
        try:
            reply = get(server.url + "/wado", params={**params, "rows": 21})
            assert reply.status == 404 and "deleted" in reply.text
        finally:
            orthanc.server.upload(catalogue[name])
        assert get(server.url + "/wado", params={**params, "rows": 22}).status == 200
    finally:
        server.stop()


def serve_once(answers: list[bytes]) -> tuple[int, threading.Thread]:
    """A loopback server that answers each connection's first request with the next of
    `answers` (raw bytes, then closes): the faults an upstream can make."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def run() -> None:
        with listener:
            for answer in answers:
                conn, _ = listener.accept()
                with conn:
                    conn.recv(65536)
                    conn.sendall(answer)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return port, thread


def test_answers_the_lean_reader_refuses_are_named() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nDICM"
    cut = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + bytes(10)
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nDICM\r\n0\r\n\r\n"
    port, thread = serve_once([ok, cut, chunked, b"SSH-2.0-nonsense\r\n"])
    src = HttpSource(f"http://127.0.0.1:{port}", "/instances/x/file", key="x", timeout=5)
    assert fetch(src) == b"DICM"  # Connection: close: the next fetch opens a new connection
    with pytest.raises(SourceUnavailable, match="stopped after 10 of 1000"):
        fetch(src)
    with pytest.raises(SourceUnavailable, match="transfer-encoding"):
        fetch(src)
    with pytest.raises(SourceUnavailable, match="status line"):
        fetch(src)
    thread.join(5)
