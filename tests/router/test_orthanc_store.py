"""The Orthanc store maps a whole series in one find when its first instance is asked for: the
rest of the series is then located without asking Orthanc at all; a 404 forgets a stale entry."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from router.errors import NotFound, UpstreamTimeout
from router.stores.orthanc import OrthancStore
from tests.support import corpus, procs
from tests.support.http import get, request
from tests.support.orthanc import Orthanc
from tests.support.server import Wadofarm


def one_series(folder: Path, count: int) -> tuple[str, str, list[str], list[Path]]:
    study, series = generate_uid(), generate_uid()
    uids, paths = [], []
    for n in range(count):
        ds = pydicom.dcmread(corpus.sample("CT_small.dcm").path)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        path = folder / f"{n}.dcm"
        ds.save_as(path)
        uids.append(str(ds.SOPInstanceUID))
        paths.append(path)
    return study, series, uids, paths


async def test_the_first_lookup_maps_the_whole_series(tmp_path: Path) -> None:
    server = Orthanc(tmp_path / "orthanc").start()
    # Long enough for a loaded machine; the frozen-Orthanc case below waits this out once.
    store = OrthancStore(server.url, timeout=3.0)
    try:
        study, series, uids, paths = one_series(tmp_path, 4)
        for path in paths:
            server.upload(path)
        first = await store.locate(uids[0], study, series, client=None)
        assert server.process is not None
        with procs.frozen(server.process.pid):  # Orthanc cannot answer now
            rest = [await store.locate(uid, study, series, client=None) for uid in uids[1:]]
            assert len({first.key, *(i.key for i in rest)}) == 4
            with pytest.raises(UpstreamTimeout):  # not in the series: asks Orthanc, which hangs
                await store.locate(generate_uid(), study, series, client=None)
        with pytest.raises(NotFound):
            await store.locate(generate_uid(), study, series, client=None)
        with pytest.raises(NotFound):  # an unknown series is listed once, then per instance
            await store.locate(uids[0], study, generate_uid(), client=None)
    finally:
        await store.close()
        server.stop()


async def test_an_instance_asked_for_alone_maps_its_series(tmp_path: Path) -> None:
    """objectUID alone (as Orthanc's /wado allows): one find, then its series is mapped, and
    its siblings are located without asking Orthanc."""
    server = Orthanc(tmp_path / "orthanc").start()
    store = OrthancStore(server.url, timeout=3.0)
    try:
        _, _, uids, paths = one_series(tmp_path, 4)
        for path in paths:
            server.upload(path)
        first = await store.locate(uids[0], None, None, client=None)
        assert server.process is not None
        with procs.frozen(server.process.pid):  # Orthanc cannot answer now
            rest = [await store.locate(uid, None, None, client=None) for uid in uids[1:]]
        assert len({first.key, *(i.key for i in rest)}) == 4
    finally:
        await store.close()
        server.stop()


def test_an_instance_deleted_and_stored_again_renders_without_a_restart(tmp_path: Path) -> None:
    """The render that meets Orthanc's 404 for a deleted instance forgets its UID -> ID entry,
    so the instance stored again (under a new Orthanc ID: another patient) renders at once."""
    orthanc = Orthanc(tmp_path / "orthanc").start()
    # No frame cache: it would keep showing the deleted instance (as the README says).
    flags = ["--orthanc", orthanc.url, "--workers", "1", "--frame-cache-mb", "0"]
    server = Wadofarm(flags, tmp_path / "w.log")
    try:
        ds = pydicom.dcmread(corpus.sample("CT_small.dcm").path)
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
        ds.PatientID = "FIRST"
        ds.save_as(tmp_path / "first.dcm")
        ds.PatientID = "SECOND"  # another patient: another Orthanc ID for the same UID
        ds.save_as(tmp_path / "second.dcm")
        first = orthanc.upload(tmp_path / "first.dcm")["ID"]
        server.start()
        wado = {"requestType": "WADO", "objectUID": str(ds.SOPInstanceUID)}
        assert get(server.url + "/wado", params={**wado, "rows": "20"}).status == 200
        assert request("DELETE", f"{orthanc.url}/instances/{first}").status == 200
        gone = get(server.url + "/wado", params={**wado, "rows": "21"})
        assert gone.status == 404, gone.text
        second = orthanc.upload(tmp_path / "second.dcm")["ID"]
        assert second != first
        again = get(server.url + "/wado", params={**wado, "rows": "22"})
        assert again.status == 200, again.text
        whole = get(server.url + "/wado", params={**wado, "contentType": "application/dicom"})
        assert whole.status == 200 and b"SECOND" in whole.body
    finally:
        server.stop()
        orthanc.stop()
