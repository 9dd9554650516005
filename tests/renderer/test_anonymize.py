"""anonymize=yes: none of the PS3.15 Basic Profile's identifying attributes survive (in sequences
either), UIDs are remapped consistently inside the object, and what a render shows -- a
report's HTML, corner annotations -- comes from the de-identified data set."""

from __future__ import annotations

import io
import warnings
from collections import defaultdict

import numpy as np
import pydicom
import pytest

from renderer.annotation import labels
from renderer.files.stored_file import StoredFile
from renderer.formats import OutputFormat
from renderer.params import RenderParams
from renderer.pipeline import render
from tests.support import corpus, objects
from tests.support.images import decode

# PS3.15 Table E.1-1 attributes the Basic Profile removes, empties or replaces (X, Z, D, U),
# those whose value must not come through unchanged. (Dates are shifted; sex may be kept.)
PROFILE = (
    "AccessionNumber",
    "InstitutionName",
    "InstitutionAddress",
    "ReferringPhysicianName",
    "StationName",
    "OperatorsName",
    "PerformingPhysicianName",
    "PatientName",
    "PatientID",
    "OtherPatientIDs",
    "PatientBirthDate",
    "PatientAddress",
    "VerifyingObserverName",
    "PersonName",
    "ContentCreatorName",
    "DeviceSerialNumber",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
    "FrameOfReferenceUID",
    "ReferencedSOPInstanceUID",
)
FILES = ["CT_small.dcm", "test-SR.dcm", "waveform_ecg.dcm", "rtplan.dcm"]


def values(ds: pydicom.Dataset) -> dict[str, set[str]]:
    """Each profile keyword's values anywhere in the data set, sequences included."""
    found: dict[str, set[str]] = defaultdict(set)
    for element in ds.iterall():
        if element.keyword in PROFILE and element.value not in (None, "", b""):
            found[element.keyword].add(str(element.value))
    return found


def read(data: bytes | str) -> pydicom.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(io.BytesIO(data) if isinstance(data, bytes) else data, force=True)


def anonymized(path: str) -> pydicom.Dataset:
    params = RenderParams(output=OutputFormat.DICOM, anonymize=True)
    return read(render(path, params).data)


@pytest.mark.parametrize("name", FILES)
def test_none_of_the_profiles_attributes_survive(name: str) -> None:
    path = str(corpus.pydicom_dir() / name)
    before, after = values(read(path)), anonymized(path)
    assert before, "the sample has identifying attributes to remove"
    left = values(after)
    for keyword, originals in before.items():
        assert not originals & left.get(keyword, set()), keyword
    assert after.PatientIdentityRemoved == "YES"
    assert after.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    assert after.file_meta.MediaStorageSOPInstanceUID == after.SOPInstanceUID


def test_pixels_are_untouched_and_requests_do_not_link() -> None:
    path = str(corpus.pydicom_dir() / "CT_small.dcm")
    first, second = anonymized(path), anonymized(path)
    assert (first.pixel_array == read(path).pixel_array).all()
    assert first.SOPInstanceUID != second.SOPInstanceUID  # a fresh UID map per request


def test_uids_are_remapped_consistently_within_the_object() -> None:
    """A KOS naming one image twice (evidence and content) names one new UID twice."""
    ds = objects.key_objects()
    image = objects.CT.object_uid
    evidence = pydicom.Dataset()
    evidence.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    evidence.ReferencedSOPInstanceUID = image
    ds.CurrentRequestedProcedureEvidenceSequence = [pydicom.Dataset()]
    series = pydicom.Dataset()
    series.ReferencedSOPSequence = [evidence]
    ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence = [series]
    ds.SOPInstanceUID = ds.StudyInstanceUID = ds.SeriesInstanceUID = pydicom.uid.generate_uid()
    ds.PatientName, ds.PatientID = "Doe^Jane", "SECRET-1"
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    after = read(
        render(out.getvalue(), RenderParams(output=OutputFormat.DICOM, anonymize=True)).data
    )
    refs = {e.value for e in after.iterall() if e.keyword == "ReferencedSOPInstanceUID"}
    assert len(refs) == 1 and image not in refs


def test_a_reports_html_shows_no_identity() -> None:
    path = str(corpus.pydicom_dir() / "test-SR.dcm")
    plain = render(path, RenderParams(output=OutputFormat.HTML)).data.decode()
    hidden = render(path, RenderParams(output=OutputFormat.HTML, anonymize=True)).data.decode()
    for identity in ("S R Test", "Jörg Riesmeier", "- Verifying Observer,"):
        assert identity in plain and identity not in hidden


def test_annotations_come_from_the_de_identified_data_set() -> None:
    path = corpus.pydicom_dir() / "CT_small.dcm"
    original = labels.patient_lines(read(str(path)))
    shown = labels.patient_lines(StoredFile(path.read_bytes(), anonymize=True).dataset())
    assert shown and not set(original[:2]) & set(shown)  # name and ID; sex may stay
    asked = RenderParams(output=OutputFormat.PNG, annotation=(labels.PATIENT,))
    with_identity = decode(render(str(path), asked).data)
    without = decode(render(str(path), RenderParams(**{**_fields(asked), "anonymize": True})).data)
    differs = np.argwhere(
        (with_identity != without).reshape(with_identity.shape[0], -1).any(axis=1)
    )
    assert differs.size  # the patient lines changed, and only there (top left corner)
    assert (with_identity[-20:] == without[-20:]).all()


def _fields(params: RenderParams) -> dict[str, object]:
    return {name: getattr(params, name) for name in params.__dataclass_fields__}
