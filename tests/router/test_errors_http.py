"""Every error status of /wado, each by a real request to a real server."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import corpus
from tests.support.http import get, request
from tests.support.orthanc import Orthanc
from tests.support.server import Wadofarm
from tests.support.tools import free_port

CT = "CT_small.dcm"


def wado(name: str = CT, **params: object) -> dict[str, object]:
    s = corpus.sample(name)
    return {
        "requestType": "WADO",
        "studyUID": s.study_uid,
        "seriesUID": s.series_uid,
        "objectUID": s.object_uid,
        **params,
    }


def without(params: dict[str, object], *names: str) -> dict[str, object]:
    return {k: v for k, v in params.items() if k not in names}


BAD_REQUESTS = {
    "no requestType": without(wado(), "requestType"),
    "requestType not WADO": wado(requestType="WADOX"),
    "no objectUID": without(wado(), "objectUID"),
    "objectUID with letters": wado(objectUID="1.2.abc"),
    "objectUID too long": wado(objectUID="1." * 40 + "1"),
    "objectUID with empty component": wado(objectUID="1..2"),
    "studyUID malformed": wado(studyUID="1.2;DROP"),
    "rows not a number": wado(rows="abc"),
    "rows zero": wado(rows="0"),
    "rows negative": wado(rows="-5"),
    "columns float": wado(columns="12.5"),
    "rows huge": wado(rows="99999999"),
    "region three numbers": wado(region="0,0,1"),
    "region inverted": wado(region="0.5,0,0.2,1"),
    "region out of range": wado(region="0,0,1.5,1"),
    "region nan": wado(region="nan,0,1,1"),
    "windowCenter without windowWidth": wado(windowCenter="40"),
    "windowWidth without windowCenter": wado(windowWidth="400"),
    "windowWidth zero": wado(windowCenter="40", windowWidth="0"),
    "windowCenter inf": wado(windowCenter="inf", windowWidth="400"),
    "frameNumber zero": wado(frameNumber="0"),
    "frameNumber past the last frame": wado(frameNumber="2"),
    "imageQuality 0": wado(imageQuality="0"),
    "imageQuality 101": wado(imageQuality="101"),
    "malformed q-value": wado(contentType="image/png;q=x"),
}


@pytest.mark.parametrize("params", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_malformed_request_is_400_with_a_reason(wadofarm_folder, params) -> None:  # type: ignore[no-untyped-def]
    reply = get(wadofarm_folder.url + "/wado", params=params)
    assert reply.status == 400, reply.text
    assert reply.content_type == "text/plain"
    assert reply.text.count("\n") == 1 and len(reply.text) > 10


def test_repeated_parameter_is_400(wadofarm_folder) -> None:  # type: ignore[no-untyped-def]
    url = wadofarm_folder.url + "/wado?rows=10&rows=20"
    reply = get(url, params=wado())
    assert reply.status == 400 and "rows" in reply.text


def test_unknown_parameters_are_ignored(wadofarm_folder) -> None:  # type: ignore[no-untyped-def]
    assert get(wadofarm_folder.url + "/wado", params=wado(charset="utf-8", foo="bar")).status == 200


@pytest.mark.parametrize(
    "params",
    [
        wado(objectUID="1.2.3.4.5.6.7.8.9"),
        wado(studyUID="1.2.3"),
        wado(seriesUID="1.2.3"),
    ],
    ids=["unknown objectUID", "wrong studyUID", "wrong seriesUID"],
)
def test_not_found_is_404(store_server, params) -> None:  # type: ignore[no-untyped-def]
    _, server = store_server
    reply = get(server.url + "/wado", params=params)
    assert reply.status == 404, reply.text
    assert reply.content_type == "text/plain"


def test_study_and_series_are_optional(store_server) -> None:  # type: ignore[no-untyped-def]
    _, server = store_server
    reply = get(server.url + "/wado", params=without(wado(), "studyUID", "seriesUID"))
    assert reply.status == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_other_methods_are_405(wadofarm_folder, method) -> None:  # type: ignore[no-untyped-def]
    reply = request(method, wadofarm_folder.url + "/wado", params=wado())
    assert reply.status == 405
    assert "GET" in reply.headers.get("allow", "")


@pytest.mark.parametrize("content_type", ["text/html", "image/png;q=0", "video/mp4, text/*"])
def test_nothing_acceptable_is_406(wadofarm_folder, content_type) -> None:  # type: ignore[no-untyped-def]
    reply = get(wadofarm_folder.url + "/wado", params=wado(contentType=content_type))
    assert reply.status == 406, reply.text


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("image/jpeg", "image/jpeg"),
        ("image/jpg", "image/jpeg"),
        ("image/png", "image/png"),
        ("*/*", "image/jpeg"),
        ("image/*", "image/jpeg"),
        ("image/png;q=0.9, image/jpeg;q=0.5", "image/png"),
        ("text/html, image/png", "image/png"),
        ("application/dicom;q=0.1, image/jpeg;q=0.2", "image/jpeg"),
        ("application/dicom, image/jpeg", "application/dicom"),
    ],
)
def test_content_type_negotiation(wadofarm_folder, content_type, expected) -> None:  # type: ignore[no-untyped-def]
    reply = get(wadofarm_folder.url + "/wado", params=wado(contentType=content_type))
    assert reply.status == 200, reply.text
    assert reply.content_type == expected
    magic = {"image/jpeg": b"\xff\xd8", "image/png": b"\x89PNG", "application/dicom": b""}
    assert reply.body.startswith(magic[expected])


def test_undecodable_file_is_415_naming_the_cause(store_server) -> None:  # type: ignore[no-untyped-def]
    _, server = store_server
    reply = get(server.url + "/wado", params=wado("MR_truncated.dcm"))
    assert reply.status == 415
    assert "pixel data" in reply.text.lower()
    assert get(server.url + "/wado", params=wado()).status == 200  # still serving


def test_etag_and_304(wadofarm_folder) -> None:  # type: ignore[no-untyped-def]
    url = wadofarm_folder.url + "/wado"
    first = get(url, params=wado(rows=50))
    etag = first.headers["etag"]
    assert etag.startswith('"') and "max-age" in first.headers["cache-control"]
    again = get(url, params=wado(rows=50), headers={"If-None-Match": etag})
    assert again.status == 304 and again.body == b"" and again.headers["etag"] == etag
    other = get(url, params=wado(rows=50), headers={"If-None-Match": '"nope"'})
    assert other.status == 200 and other.body == first.body


@pytest.fixture
def own_orthanc(tmp_path: Path, catalogue: dict[str, Path]) -> Iterator[Orthanc]:
    server = Orthanc(tmp_path / "orthanc").start()
    server.upload(catalogue[CT])
    yield server
    if server.process is not None:
        os.kill(server.process.pid, signal.SIGCONT)
    server.stop()


def test_orthanc_unreachable_is_502(tmp_path: Path) -> None:
    server = Wadofarm(
        ["--orthanc", f"http://127.0.0.1:{free_port()}", "--workers", "1"], tmp_path / "w.log"
    ).start()
    try:
        reply = get(server.url + "/wado", params=wado())
        assert reply.status == 502 and "unreachable" in reply.text
    finally:
        server.stop()


def test_orthanc_too_slow_is_504_then_recovers(tmp_path: Path, own_orthanc: Orthanc) -> None:
    server = Wadofarm(
        # No frame cache: the re-render must go back to Orthanc for the file.
        [
            "--orthanc",
            own_orthanc.url,
            "--workers",
            "1",
            "--upstream-timeout",
            "1",
            "--frame-cache-mb",
            "0",
        ],
        tmp_path / "w.log",
    ).start()
    try:
        assert get(server.url + "/wado", params=wado()).status == 200
        assert own_orthanc.process is not None
        os.kill(own_orthanc.process.pid, signal.SIGSTOP)  # a hung Orthanc: accepts, never answers
        try:
            reply = get(server.url + "/wado", params=wado(rows=33))
            assert reply.status == 504 and "did not answer" in reply.text
            assert get(server.url + "/healthz").status == 200
        finally:
            os.kill(own_orthanc.process.pid, signal.SIGCONT)
        assert get(server.url + "/wado", params=wado(rows=34)).status == 200
    finally:
        server.stop()
