"""Every sample file through both stores, by real HTTP against a real wadofarm process."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from renderer.output.layout import fit
from tests.support import corpus
from tests.support.http import get
from tests.support.images import decode

NAMES = [s.name for s in corpus.samples() if s.name not in corpus.UNWRITABLE]

# The samples that cannot render (MANIFEST.tsv, or pydicom's own decode), each with the words its
# 415 reason must contain: the cause, not just "cannot render".
REFUSED = {
    "MR_truncated.dcm": "pixel data",  # shorter than Rows x Columns x 2 bytes
    "pydicom-JPEG-lossy.dcm": "JPEG Extended (Process 2 and 4)",  # libjpeg rejects its scan
    "pydicom-JPEG2000-embedded-sequence-delimiter.dcm": "JPEG 2000 Image Compression",
    "pydicom-badVR.dcm": "(0028,0008) Number of Frames",  # '1A' is not an IS
}


def test_exactly_the_known_samples_cannot_render() -> None:
    assert {name for name in NAMES if not corpus.decodable(name)} == set(REFUSED)


def _header(path: Path) -> pydicom.Dataset:
    return pydicom.dcmread(path, stop_before_pixels=True, force=True)


def _wado(name: str, **params: object) -> dict[str, object]:
    s = corpus.sample(name)
    return {
        "requestType": "WADO",
        "studyUID": s.study_uid,
        "seriesUID": s.series_uid,
        "objectUID": s.object_uid,
        **params,
    }


def test_orthanc_stores_every_sample(orthanc, catalogue) -> None:  # type: ignore[no-untyped-def]
    refused = {name: orthanc.uploads[name] for name in catalogue if not orthanc.stored(name)}
    assert not refused


@pytest.mark.parametrize("name", NAMES)
def test_renders_jpeg_of_the_right_size(store_server, catalogue, name) -> None:  # type: ignore[no-untyped-def]
    _, server = store_server
    reply = get(server.url + "/wado", params=_wado(name))
    if not corpus.decodable(name):
        assert reply.status == 415, reply.text
        assert reply.content_type == "text/plain" and REFUSED[name] in reply.text
        return
    assert reply.status == 200, reply.text
    assert reply.content_type == "image/jpeg"
    assert reply.body[:3] == b"\xff\xd8\xff"
    header = _header(catalogue[name])
    image = decode(reply.body)
    assert image.shape[:2] == (header.Rows, header.Columns)


@pytest.mark.parametrize("name", NAMES)
def test_thumbnail_fits_the_box(store_server, catalogue, name) -> None:  # type: ignore[no-untyped-def]
    if not corpus.decodable(name):
        return
    _, server = store_server
    reply = get(
        server.url + "/wado", params=_wado(name, rows=64, columns=96, contentType="image/png")
    )
    assert reply.status == 200, reply.text
    assert reply.content_type == "image/png"
    header = _header(catalogue[name])
    width, height = fit(header.Columns, header.Rows, 96, 64)
    assert decode(reply.body).shape[:2] == (height, width)
    assert width <= 96 and height <= 64 and (width == 96 or height == 64)


@pytest.mark.parametrize("name", NAMES)
def test_application_dicom_is_the_stored_file(store_server, catalogue, name) -> None:  # type: ignore[no-untyped-def]
    _, server = store_server
    reply = get(server.url + "/wado", params=_wado(name, contentType="application/dicom"))
    assert reply.status == 200, reply.text
    assert reply.content_type == "application/dicom"
    assert reply.body == catalogue[name].read_bytes()
