"""annotation=patient,technique over real HTTP from a real Orthanc: a Japanese-named patient
gets text in the corners, an anonymised one no patient text; each annotation is cached apart;
a value that is not patient or technique is a 400."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest

from tests.conftest import LoadedOrthanc
from tests.renderer.test_labels import anonymous, japanese
from tests.support.http import get
from tests.support.images import decode
from tests.support.server import Wadofarm


@pytest.fixture(scope="module")
def patients(tmp_path_factory: pytest.TempPathFactory, orthanc: LoadedOrthanc) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("annotation")
    uids = {}
    for name, build in (("japanese", japanese), ("anonymous", anonymous)):
        path: Path = build(folder / f"{name}.dcm")
        assert orthanc.server.upload(path)["HttpStatus"] == 200
        uids[name] = str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)
    return uids


def fetch(server: Wadofarm, uid: str, **params: str):  # type: ignore[no-untyped-def]
    query = {"requestType": "WADO", "objectUID": uid, "contentType": "image/png", "rows": "240"}
    return get(server.url + "/wado", params={**query, **params})


def test_japanese_patient_is_annotated(
    wadofarm_orthanc: Wadofarm, patients: dict[str, str]
) -> None:
    plain = fetch(wadofarm_orthanc, patients["japanese"])
    drawn = fetch(wadofarm_orthanc, patients["japanese"], annotation="patient,technique")
    assert plain.status == drawn.status == 200, drawn.text
    changed = decode(drawn.body) != decode(plain.body)
    height, width = changed.shape
    assert changed[: height // 3, : width // 3].sum() > 100  # the name, ID, birth date
    assert changed[: height // 3, -width // 4 :].sum() > 100  # modality, numbers, window
    assert not changed[height // 2 :].any()
    # One render per annotation set, whatever the order asked.
    again = fetch(wadofarm_orthanc, patients["japanese"], annotation="technique,patient")
    assert again.headers["x-wadofarm-cache"] == "L1" and again.body == drawn.body


def test_anonymised_patient_has_no_patient_text(
    wadofarm_orthanc: Wadofarm, patients: dict[str, str]
) -> None:
    plain = decode(fetch(wadofarm_orthanc, patients["anonymous"]).body)
    patient = decode(fetch(wadofarm_orthanc, patients["anonymous"], annotation="patient").body)
    assert np.array_equal(patient, plain)
    both = fetch(wadofarm_orthanc, patients["anonymous"], annotation="patient,technique")
    assert not np.array_equal(decode(both.body), plain)


def test_unknown_annotation_is_400(wadofarm_orthanc: Wadofarm, patients: dict[str, str]) -> None:
    reply = fetch(wadofarm_orthanc, patients["anonymous"], annotation="patient,dose")
    assert reply.status == 400 and "annotation" in reply.text


def test_dicomweb_rendered_takes_annotation(
    wadofarm_orthanc: Wadofarm, patients: dict[str, str]
) -> None:
    uid = patients["japanese"]
    found = get(
        wadofarm_orthanc.url + "/wado",
        params={"requestType": "WADO", "objectUID": uid, "contentType": "application/dicom"},
    )
    ds = pydicom.dcmread(io.BytesIO(found.body))
    base = (
        f"{wadofarm_orthanc.url}/dicom-web/studies/{ds.StudyInstanceUID}"
        f"/series/{ds.SeriesInstanceUID}/instances/{uid}/rendered"
    )
    plain = get(base, params={"accept": "image/png"})
    drawn = get(base, params={"accept": "image/png", "annotation": "patient"})
    assert plain.status == drawn.status == 200
    assert drawn.body != plain.body
