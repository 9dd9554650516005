"""anonymize=yes over real HTTP (issue 25): a presentation state shown as an image, asked first
on a fresh server, renders de-identified and leaves the state's plain URLs working; the answer's
bytes hold nothing of the test image's identity; pixels that may hold burned-in text are a 403
unless the server keeps them (--anonymize-keeps-burned-in); objects over --anonymize-max-mb are
a 413, from a folder and from Orthanc (refused before the worker reads the file)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import UltrasoundImageStorage, generate_uid

from tests.support import deid, gsps
from tests.support.http import get
from tests.support.orthanc import Orthanc
from tests.support.server import Wadofarm


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("deid-folder")
    (base / "image.dcm").write_bytes(deid.every_profile_attribute().data)
    ultrasound(base / "us.dcm")
    note = gsps.annotation("NOTES", texts=[gsps.text("PHI-STATE-TEXT", box=(1, 1, 15, 8))])
    gsps.write_state(
        base / "state.dcm", base / "image.dcm", layers=[gsps.layer("NOTES")], annotations=[note]
    )
    return base


def ultrasound(path: Path) -> None:
    """A small US image that does not say whether its pixels hold burned-in text."""
    ds = pydicom.Dataset()
    ds.SOPClassUID = UltrasoundImageStorage
    ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID = (
        generate_uid() for _ in range(3)
    )
    ds.Modality, ds.PatientName, ds.PatientID = "US", "Sono^Phi", "PHI-US-1"
    ds.Rows = ds.Columns = 16
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = bytes(range(256))
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True)


def uid(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory, folder: Path) -> Iterator[Wadofarm]:
    log = tmp_path_factory.mktemp("deid-server") / "w.log"
    server = Wadofarm(["--dicom-dir", str(folder), "--workers", "1", "--allow-anonymize"], log)
    yield server.start()
    server.stop()


def wado(server: Wadofarm, path: Path, **params: object) -> tuple[int, bytes, str]:
    reply = get(server.url + "/wado", params=server.wado(uid(path), **params))
    return reply.status, reply.body, reply.text


def test_a_state_asked_anonymized_first_renders_and_breaks_nothing(
    fresh: Wadofarm, folder: Path
) -> None:
    state = folder / "state.dcm"
    asked = {"contentType": "image/png", "annotation": "patient", "anonymize": "yes"}
    status, hidden, text = wado(fresh, state, **asked)
    assert status == 200, text  # was a 404: the worker named the image by its remapped UID
    status, plain, text = wado(fresh, state, contentType="image/png", annotation="patient")
    assert status == 200, text  # was a 404 for every client until a restart
    assert hidden != plain  # the stored name and the state's text are not in it
    assert wado(fresh, state, **asked)[:2] == (200, hidden)
    assert wado(fresh, state, contentType="image/png")[0] == 200


def test_the_answer_holds_nothing_identifying(fresh: Wadofarm, folder: Path) -> None:
    built = deid.every_profile_attribute()
    status, body, text = wado(
        fresh, folder / "image.dcm", contentType="application/dicom", anonymize="yes"
    )
    assert status == 200, text
    assert [s for s in built.strings if s.encode() in body] == []
    assert [u for u in built.uids if u.encode() in body] == []
    sent = pydicom.dcmread(io.BytesIO(body))
    assert sent.PatientIdentityRemoved == "YES"
    assert [e.tag for e in sent.iterall() if e.tag.is_private] == []


def test_burned_in_text_is_refused_unless_kept(
    fresh: Wadofarm, folder: Path, tmp_path: Path
) -> None:
    for kind in ("image/png", "image/gif", "application/dicom"):
        status, _, text = wado(fresh, folder / "us.dcm", contentType=kind, anonymize="yes")
        assert status == 403 and "burned-in" in text, (kind, status, text)
    args = ["--dicom-dir", str(folder), "--workers", "1", "--allow-anonymize"]
    args += ["--anonymize-keeps-burned-in", "--anonymize-max-mb", "0.01"]
    server = Wadofarm(args, tmp_path / "w.log").start()
    try:
        status, _, text = wado(server, folder / "us.dcm", contentType="image/png", anonymize="yes")
        assert status == 200, text
        status, _, text = wado(
            server, folder / "image.dcm", contentType="image/png", anonymize="yes"
        )
        assert status == 413 and "--anonymize-max-mb" in text, text  # 23 KB over 10 KB
    finally:
        server.stop()


def test_too_large_from_orthanc_is_refused_before_the_worker_reads_it(tmp_path: Path) -> None:
    orthanc = Orthanc(tmp_path / "orthanc").start()
    try:
        built = deid.every_profile_attribute()
        assert orthanc.upload_bytes(built.data)["HttpStatus"] == 200
        args = ["--orthanc", orthanc.url, "--workers", "1", "--allow-anonymize"]
        server = Wadofarm([*args, "--anonymize-max-mb", "0.01"], tmp_path / "w.log").start()
        try:
            object_uid = str(pydicom.dcmread(io.BytesIO(built.data)).SOPInstanceUID)
            params = server.wado(object_uid, contentType="application/dicom", anonymize="yes")
            reply = get(server.url + "/wado", params=params)
            assert reply.status == 413 and "--anonymize-max-mb" in reply.text, reply.text
            del params["anonymize"]
            assert get(server.url + "/wado", params=params).body == built.data  # as stored
        finally:
            server.stop()
    finally:
        orthanc.stop()
